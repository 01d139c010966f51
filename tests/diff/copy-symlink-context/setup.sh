mkdir -p dir; echo a > a.txt; ln -s a.txt link; ln -s ../a.txt dir/up; ln -s /etc/passwd dir/abs; ln -s nothere dir/dangling
mkdir -p real; echo r > real/r; ln -s real dirlink
