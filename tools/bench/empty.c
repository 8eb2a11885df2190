/* SPDX-License-Identifier: MIT */
/*
 * Built as empty.so: a preloaded library with nothing in it, the floor
 * that LD_PRELOAD costs a program before the shim does anything. ISO C
 * wants a declaration in every translation unit; this one exports nothing.
 */
static int empty_unused __attribute__((unused));
