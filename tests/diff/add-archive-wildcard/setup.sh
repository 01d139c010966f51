mkdir -p t1 t2; echo a > t1/a; echo b > t2/b
tar -C t1 -cf one.tar a; tar -C t2 -cf two.tar b; rm -rf t1 t2
