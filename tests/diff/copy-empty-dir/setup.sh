mkdir -p empty withempty/inner/deeper; echo x > withempty/f
