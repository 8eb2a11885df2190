/* SPDX-License-Identifier: MIT */
/*
 * vfork cannot be wrapped in C: the child returns from the wrapper on the
 * parent's stack and overwrites the frame the parent will return through.
 * As libc does, keep the return address in a register the kernel preserves
 * for each side, and let only the parent (which runs after the child has
 * exec'd or exited) go on into C.
 */
/* The child returns through it before it execs: CW_CHILD_CODE's section. */
#if defined(__x86_64__)
	.section .text.hot.cw_child, "ax", @progbits
	.globl	vfork
	.type	vfork, @function
vfork:
	sub	$8, %rsp
	call	cw__vfork_begin
	add	$8, %rsp
	pop	%rdi
	mov	$58, %eax		/* SYS_vfork */
	syscall
	push	%rdi
	test	%eax, %eax
	jz	1f
	mov	%rdi, %rsi		/* where our caller is, for the trace */
	movslq	%eax, %rdi
	jmp	cw__vfork_end		/* parent: returns to our caller */
1:	ret
	.size	vfork, .-vfork
#elif defined(__aarch64__)
	.section .text.hot.cw_child, "ax", %progbits
	.globl	vfork
	.type	vfork, %function
vfork:
	stp	x29, x30, [sp, #-16]!
	bl	cw__vfork_begin
	ldp	x29, x30, [sp], #16
	mov	x0, #0x4111		/* CLONE_VM | CLONE_VFORK | SIGCHLD */
	mov	x1, #0
	mov	x2, #0
	mov	x3, #0
	mov	x4, #0
	mov	x8, #220		/* SYS_clone */
	svc	#0
	cbz	x0, 1f
	sxtw	x0, w0
	mov	x1, x30			/* where our caller is, for the trace */
	b	cw__vfork_end		/* parent: x30 still holds our caller */
1:	ret
	.size	vfork, .-vfork
#endif
	.section .note.GNU-stack, "", %progbits
