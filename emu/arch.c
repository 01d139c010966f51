/* emu/arch.c — which QEMU runs which architecture, and how binfmt_misc recognizes its
 * executables.  Written from the ELF specification (System V ABI, "ELF Header"):
 *
 *   offset  field            magic                      mask
 *   0..3    EI_MAG0..3       7f 'E' 'L' 'F'             ff ff ff ff
 *   4       EI_CLASS         1 (32-bit) / 2 (64-bit)    ff
 *   5       EI_DATA          1 (LSB) / 2 (MSB)          ff
 *   6       EI_VERSION       1                          ff
 *   7       EI_OSABI         (SYSV 0, GNU/Linux 3 …)    00  any
 *   8       EI_ABIVERSION                               00  any
 *   9..15   EI_PAD           0                          ff
 *   16..17  e_type           ET_EXEC 2 (or ET_DYN 3)    fe ff (LSB) / ff fe (MSB): 2 or 3
 *   18..19  e_machine        EM_*                       ff ff
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "emu/emu.h"

/* e_machine values (ELF spec / the psABI supplements). */
enum
{
  EM_386 = 3,
  EM_MIPS = 8,
  EM_PPC64 = 21,
  EM_S390 = 22,
  EM_ARM = 40,
  EM_X86_64 = 62,
  EM_AARCH64 = 183,
  EM_RISCV = 243,
  EM_LOONGARCH = 258,
};

static const sw_emu_arch arches[] = {
  { "amd64", "x86_64", 2, 1, EM_X86_64 },
  { "arm64", "aarch64", 2, 1, EM_AARCH64 },
  { "arm", "arm", 1, 1, EM_ARM },
  { "386", "i386", 1, 1, EM_386 },
  { "riscv64", "riscv64", 2, 1, EM_RISCV },
  { "ppc64le", "ppc64le", 2, 1, EM_PPC64 },
  { "ppc64", "ppc64", 2, 2, EM_PPC64 },
  { "s390x", "s390x", 2, 2, EM_S390 },
  { "loong64", "loongarch64", 2, 1, EM_LOONGARCH },
};

const sw_emu_arch *
sw_emu_arch_for (const sw_platform *platform)
{
  if (platform->arch == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
    if (strcmp (arches[i].arch, platform->arch) == 0)
      return &arches[i];
  return NULL;
}

static void
put16 (unsigned char *p, unsigned v, int data)
{
  if (data == 1)
    {
      p[0] = (unsigned char) (v & 0xff);
      p[1] = (unsigned char) (v >> 8);
    }
  else
    {
      p[0] = (unsigned char) (v >> 8);
      p[1] = (unsigned char) (v & 0xff);
    }
}

void
sw_emu_arch_magic (const sw_emu_arch *a, unsigned char magic[SW_EMU_MAGIC_LEN],
                   unsigned char mask[SW_EMU_MAGIC_LEN])
{
  memset (magic, 0, SW_EMU_MAGIC_LEN);
  memset (mask, 0xff, SW_EMU_MAGIC_LEN);
  magic[0] = 0x7f;
  magic[1] = 'E';
  magic[2] = 'L';
  magic[3] = 'F';
  magic[4] = a->elf_class;
  magic[5] = a->elf_data;
  magic[6] = 1;
  mask[7] = 0; /* OS ABI: SYSV and GNU/Linux binaries alike */
  mask[8] = 0; /* ABI version */
  put16 (magic + 16, 2, a->elf_data);
  put16 (mask + 16, 0xfffe, a->elf_data); /* ET_EXEC (2) or ET_DYN (3) */
  put16 (magic + 18, a->machine, a->elf_data);
}

void
sw_emu_arch_sample_header (const sw_emu_arch *a, unsigned char hdr[SW_EMU_MAGIC_LEN])
{
  unsigned char mask[SW_EMU_MAGIC_LEN];
  sw_emu_arch_magic (a, hdr, mask);
  hdr[7] = 3; /* as a GNU/Linux static binary says */
}

char *
sw_emu_register_line (const sw_emu_arch *a, const char *name, const char *interpreter)
{
  unsigned char magic[SW_EMU_MAGIC_LEN], mask[SW_EMU_MAGIC_LEN];
  sw_buf b = SW_BUF_INIT;

  sw_emu_arch_magic (a, magic, mask);
  /* Every byte escaped, so no byte can be taken for the ':' separator. */
  sw_buf_printf (&b, ":%s:M:0:", name);
  for (int i = 0; i < SW_EMU_MAGIC_LEN; i++)
    sw_buf_printf (&b, "\\x%02x", magic[i]);
  sw_buf_putc (&b, ':');
  for (int i = 0; i < SW_EMU_MAGIC_LEN; i++)
    sw_buf_printf (&b, "\\x%02x", mask[i]);
  sw_buf_printf (&b, ":%s:PF", interpreter);
  return sw_buf_steal (&b);
}
