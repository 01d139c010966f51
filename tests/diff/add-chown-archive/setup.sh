mkdir -p t/d; echo a > t/d/f; tar -C t -cf a.tar d; rm -rf t
