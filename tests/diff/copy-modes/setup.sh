echo a > suid; chmod 4755 suid; echo b > private; chmod 600 private; mkdir open; chmod 777 open
mkdir sticky; chmod 1777 sticky; echo c > ro; chmod 444 ro; echo d > exec; chmod 711 exec
chown 1234:5678 private
mkdir -p empty/nested
