mkdir dir; echo x > dir/one; ln dir/one dir/two; mkdir dir/sub; ln dir/one dir/sub/three
