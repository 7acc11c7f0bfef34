/* main.c — placeholder entry until the CLI lands. */
#include <stdio.h>
int main(void) { puts("ecom"); return 0; }
