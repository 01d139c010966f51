content of main.c
