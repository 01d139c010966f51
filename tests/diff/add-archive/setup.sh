mkdir -p t/top/sub; echo 1 > t/top/one; echo 2 > t/top/sub/two; ln -s one t/top/lnk; chmod 700 t/top/sub
tar -C t --owner=10 --group=20 -czf a.tar.gz top
tar -C t -cf b.tar top
tar -C t -cJf c.tar.xz top
rm -rf t
