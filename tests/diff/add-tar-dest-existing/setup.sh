mkdir -p t/top; echo new > t/top/one; tar -C t -cf a.tar top; rm -rf t
