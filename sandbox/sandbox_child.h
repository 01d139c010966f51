/* sandbox/sandbox_child.h — the records the sandbox's child sends its parent on sync_fd. */
#ifndef SW_EXEC_SANDBOX_CHILD_H
#define SW_EXEC_SANDBOX_CHILD_H

#include <stdint.h>

enum
{
  SW_MSG_ERROR = 1, /* setup failed: text + errno */
  SW_MSG_EXEC,      /* the command could not be executed: text + errno */
};

typedef struct sw_child_msg
{
  int32_t kind;
  int32_t err;
  char text[504];
} sw_child_msg;

#endif
