/* SPDX-License-Identifier: MIT */
#ifndef CW_BENCH_H
#define CW_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define REPORT_FD      3
#define WORKER_ALARM_S 300
/* Past the worker's own alarm: only a worker stuck where SIGALRM cannot
 * reach it meets this one. */
#define WORKER_TIMEOUT_S (WORKER_ALARM_S + 30)
#define BATCH		 64
#define SCALE_ROUNDS	 200
#define SCALE_BUDGET_NS	 (2 * 1000000000LL)
#define LATENCY_ROUNDS	 500
#define NOFILE_SMALL	 1024
#define LIST_MAX	 16
#define VALUES_MAX	 (2 * LIST_MAX)
#define CONFIGS_MAX	 8

extern char **environ;

/* The C micro-workloads run in workers; WL_REAL is the table of real
 * programs, which the driver launches itself. */
enum workload {
	WL_FORK,
	WL_VFORK,
	WL_SPAWN,
	WL_BATCH,
	WL_SCALE,
	WL_LATENCY,
	WL_LATENCY_HANDLER,
	WL_MEMORY,
	WL_REAL,
	WL_COUNT,
};

extern const char *const workload_names[WL_COUNT];
extern const char *const workload_titles[WL_COUNT];

struct job {
	enum workload wl;
	const char *config;
	int count;
	int ns[LIST_MAX];
	int nns;
	long nofile;
};

struct config {
	char name[32];	  /* in the CSV and on the worker's command line */
	char label[32];	  /* in the tables */
	const char *lib;  /* LD_PRELOAD, NULL for bare */
	const char *mode; /* CHILDWATCH_MODE, NULL for none */
	long nofile;	  /* 0: the worker keeps or raises its own */
	char preload[PATH_MAX + 16], mode_var[48], trace_var[PATH_MAX + 32];
	char **envp;
};

struct options {
	unsigned workloads;
	unsigned programs; /* the real programs, by their index */
	const char *modes[CONFIGS_MAX];
	int nmodes;
	int reps, heavy_reps, children, live, real_n;
	int scale[LIST_MAX];
	int nscale;
	const char *csv, *plot;
	const char *trace; /* CHILDWATCH_TRACE for the preloaded workers */
	bool smoke;
};

struct run {
	bool ok;
	int nv;
	double v[VALUES_MAX];
	long maxrss_kib;
};

struct bench {
	const struct options *opt;
	struct config configs[CONFIGS_MAX];
	int nconfigs;	     /* the time workloads' rows */
	int nconfigs_memory; /* plus the small descriptor limit row */
	char lib[PATH_MAX];
	char empty_lib[PATH_MAX];
	FILE *csv;
	int failures, met, missed;
	/* Scale medians per wait kind and config, for the plot. */
	double scale_med[2][CONFIGS_MAX][LIST_MAX];
	bool scale_done;
};

/* common.c */
int64_t clock_ns(void);
void sleep_ns(long ns);
bool status_is(int status, int code);
pid_t waitpid_nointr(pid_t pid, int *status);
double median(double *v, int n);
char **env_for(char *const *extra);
bool path_find(const char *name, char path[PATH_MAX]);
bool pipe_read_all(int fd, pid_t pid, int64_t deadline, char *buf,
		   size_t size);
int config_env(struct config *c, const char *trace);

/* options.c */
int int_parse(const char *s, long min, long max, long *v);
int int_list_parse(const char *s, int *v, int max);
int workload_parse(const char *s);
int workload_count(const struct options *o, enum workload wl);
int options_parse(struct options *o, int argc, char **argv);

/* workloads.c: each returns how many figures it wrote to out, or -1. */
int work_run(const struct job *j, double *out);
int batches_of(int children);
int idle_main(void);

/* worker.c */
int worker_main(int argc, char **argv);

/* real.c */
int real_find(const char *name);
void real_table(struct bench *b);

/* output.c */
void csv_row(struct bench *b, const char *wl, const struct config *c,
	     long param, int rep, double v, const char *unit);
void csv_run(struct bench *b, enum workload wl, const struct config *c,
	     int rep, const struct run *run);
double runs_median(const struct run *runs, int reps, int k);
void cell_print(double v, const char *fmt);
void table_time(struct bench *b, enum workload wl, struct run *runs);
void table_scale(struct bench *b, struct run *runs);
void table_memory(struct bench *b, struct run *runs);
void plot_render(struct bench *b);
void header_print(const struct bench *b, int argc, char **argv);

#endif
