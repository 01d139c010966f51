content of src/x.h
