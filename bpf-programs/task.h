/* The few kernel structures the tools read, declared with
 * preserve_access_index so every access is a CO-RE relocation resolved
 * against the target kernel's BTF at load time: only the member names
 * matter here, never their offsets or the other members. */
#ifndef BPFTOOLS_TASK_H
#define BPFTOOLS_TASK_H

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct mm_struct *mm;
} __attribute__((preserve_access_index));

#endif
