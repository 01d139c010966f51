mkdir -p dir/real; echo f > dir/file; ln -s file dir/link; echo r > dir/real/r; ln -s real dir/linkdir
