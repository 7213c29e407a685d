// SPDX-License-Identifier: GPL-2.0
/* run_parse_options() and parse_mem_size(): `lkvm run` command lines. */
#include <string.h>

#include "run.h"
#include "test.h"
#include "util.h"

/* argv as main() gets it: writable pointers (getopt permutes them), NULL-ended */
#define PARSE(cfg, e, ...)                                                           \
	({                                                                           \
		char *argv_[] = { "run", __VA_ARGS__, NULL };                         \
		run_parse_options((int)ARRAY_SIZE(argv_) - 1, argv_, (cfg), (e));     \
	})

TEST(options, defaults)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	REQUIRE(PARSE(&cfg, &e, "-k", "Image") == 0);
	CHECK_STR(cfg.kernel_path, "Image");
	CHECK_EQ_U64(cfg.ram_size, 256 * SZ_1M);
	CHECK_EQ_U64(cfg.nr_cpus, 1);
	CHECK_EQ_U64(cfg.irqchip, IRQCHIP_GICV3);
	CHECK_EQ_U64(cfg.loglevel, LOG_WARN);
	CHECK_EQ_U64(cfg.console, CONSOLE_SERIAL);
	CHECK(!cfg.aarch32);
	CHECK(cfg.initrd_path == NULL);
	CHECK(cfg.cmdline == NULL);
	CHECK(cfg.dump_dtb == NULL);
}

TEST(options, all_long_options)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	REQUIRE(PARSE(&cfg, &e, "--kernel", "zImage", "--initrd", "rd.img", "--params",
		      "quiet", "--mem", "1G", "--cpus", "4", "--console", "serial", "--aarch32",
		      "--irqchip=gicv2", "--loglevel", "debug", "--dump-dtb", "out.dtb") == 0);
	CHECK_STR(cfg.kernel_path, "zImage");
	CHECK_STR(cfg.initrd_path, "rd.img");
	CHECK_STR(cfg.cmdline, "quiet");
	CHECK_EQ_U64(cfg.ram_size, SZ_1G);
	CHECK_EQ_U64(cfg.nr_cpus, 4);
	CHECK(cfg.aarch32);
	CHECK_EQ_U64(cfg.irqchip, IRQCHIP_GICV2);
	CHECK_EQ_U64(cfg.loglevel, LOG_DEBUG);
	CHECK_STR(cfg.dump_dtb, "out.dtb");
}

TEST(options, mem_sizes)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k", "Image", "-m", "512") == 0);
	CHECK_EQ_U64(cfg.ram_size, 512 * SZ_1M);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-m", "1G") == 0);
	CHECK_EQ_U64(cfg.ram_size, SZ_1G);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-m", "64M") == 0);
	CHECK_EQ_U64(cfg.ram_size, 64 * SZ_1M);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-m", "2g") == 0);
	CHECK_EQ_U64(cfg.ram_size, 2 * SZ_1G);
}

TEST(options, mem_errors)
{
	static const char *const bad[] = { "3M", "0", "abc", "-5", "", "12X", "1G5", "0G", "3" };
	struct vm_config cfg;
	struct lkvm_err e;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int r;

		e.msg[0] = 0;
		r = PARSE(&cfg, &e, "-k", "Image", "-m", (char *)bad[i]);
		if (r != -1 || !strstr(e.msg, "-m"))
			test_fail(__FILE__, __LINE__, "-m \"%s\": returned %d, msg \"%s\"", bad[i], r,
				  e.msg);
	}
	/* odd MiB: KVM and the 2 MiB aligned layout need whole 2 MiB blocks */
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-m", "3M") == -1);
	CHECK_CONTAINS(e.msg, "2 MiB");
}

TEST(options, parse_mem_size)
{
	uint64_t b = 0;

	CHECK(parse_mem_size("99999999999999999999", &b) == -1);
	CHECK(parse_mem_size("18446744073709551615", &b) == -1); /* << 20 overflows */
	CHECK(parse_mem_size("17592186044416", &b) == -1);       /* 2^44 MiB = 2^64 */
	CHECK(parse_mem_size("17179869184G", &b) == -1);         /* 2^34 GiB = 2^64 */
	CHECK(parse_mem_size("17592186044415", &b) == 0);        /* the largest that fits */
	CHECK_EQ_U64(b, 17592186044415ULL << 20);
	CHECK(parse_mem_size("16G", &b) == 0);
	CHECK_EQ_U64(b, 16 * SZ_1G);
	CHECK(parse_mem_size("", &b) == -1);
	CHECK(parse_mem_size("M", &b) == -1);
	CHECK(parse_mem_size("5MB", &b) == -1);
}

/*
 * strtoull() skips blanks and negates "-N" modulo 2^64: a leading '-' check
 * that looks at s[0] only lets " -18446744073709551614" through as 2.
 */
TEST(options, negative_after_blank)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };
	uint64_t b = 0;

	CHECK(parse_mem_size(" -18446744073709551614", &b) == -1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-m", " -18446744073709551614") == -1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", " -18446744073709551612") == -1);
}

TEST(options, cpus)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "4") == 0);
	CHECK_EQ_U64(cfg.nr_cpus, 4);
	e.msg[0] = 0;
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "0") == -1);
	CHECK_CONTAINS(e.msg, "-c 0");
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "-1") == -1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "two") == -1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "4x") == -1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "100000") == -1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-c", "4294967297") == -1); /* 2^32 + 1 */
}

TEST(options, irqchip)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k", "Image", "--irqchip", "gicv2") == 0);
	CHECK_EQ_U64(cfg.irqchip, IRQCHIP_GICV2);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "--irqchip", "gicv3") == 0);
	CHECK_EQ_U64(cfg.irqchip, IRQCHIP_GICV3);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "--irqchip", "gicv9") == -1);
	CHECK_CONTAINS(e.msg, "gicv9");
}

TEST(options, unknown_option)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k", "Image", "--bogus") == -1);
	CHECK_CONTAINS(e.msg, "--bogus");
	e.msg[0] = 0;
	CHECK(PARSE(&cfg, &e, "-z", "-k", "Image") == -1);
	CHECK_CONTAINS(e.msg, "-z");
	e.msg[0] = 0;
	CHECK(PARSE(&cfg, &e, "-k", "Image", "--loglevel", "loud") == -1);
	CHECK_CONTAINS(e.msg, "loud");
	e.msg[0] = 0;
	CHECK(PARSE(&cfg, &e, "-k", "Image", "--console", "telnet") == -1);
	CHECK_CONTAINS(e.msg, "telnet");
}

TEST(options, missing_value)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k") == -1);
	CHECK_CONTAINS(e.msg, "-k");
	e.msg[0] = 0;
	CHECK(PARSE(&cfg, &e, "-k", "Image", "--mem") == -1);
	CHECK_CONTAINS(e.msg, "--mem");
}

TEST(options, kernel_required)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-m", "512") == -1);
	CHECK_CONTAINS(e.msg, "-k");
	/* --dump-dtb needs no kernel */
	CHECK(PARSE(&cfg, &e, "--dump-dtb", "x.dtb") == 0);
	CHECK_STR(cfg.dump_dtb, "x.dtb");
	CHECK(cfg.kernel_path == NULL);
}

TEST(options, help)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "--help") == 1);
	CHECK(PARSE(&cfg, &e, "-k", "Image", "-h") == 1);
}

/* getopt permutes: a stray word anywhere is left over and must be refused */
TEST(options, stray_argument)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k", "Image", "stray") == -1);
	CHECK_CONTAINS(e.msg, "stray");
	e.msg[0] = 0;
	CHECK(PARSE(&cfg, &e, "oops", "-k", "Image") == -1);
	CHECK_CONTAINS(e.msg, "oops");
}

/*
 * Every call must start from scratch. glibc keeps its place inside a group
 * of short options ("-zc8" stopped at the unknown -z) across calls unless
 * optind is set to 0: with optind = 1 the next parse still sees "-c 8".
 */
TEST(options, getopt_state_reset)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	int r;

	CHECK(PARSE(&cfg, &e, "-zc8") == -1);
	e.msg[0] = 0;
	r = PARSE(&cfg, &e, "-k", "Image");
	if (r != 0)
		test_fail(__FILE__, __LINE__, "run -k Image after run -zc8: returned %d (\"%s\"), nr_cpus %u",
			  r, e.msg, cfg.nr_cpus);
	CHECK_EQ_U64(cfg.nr_cpus, 1);
	CHECK_STR(cfg.kernel_path, "Image");

	CHECK(PARSE(&cfg, &e, "-hk", "Image") == 1);
	CHECK(PARSE(&cfg, &e, "-k", "Image2") == 0);
	CHECK_STR(cfg.kernel_path, "Image2");
}

/* kvmtool's spellings (issue 15): what users' scripts and kvm-unit-tests carry */
TEST(options, kvmtool_spellings)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	/* --debug is a flag: it must not swallow the next word as a value */
	CHECK_EQ_U64(PARSE(&cfg, &e, "--debug", "-k", "Image"), 0);
	CHECK_EQ_U64(cfg.loglevel, LOG_DEBUG);
	CHECK_STR(cfg.kernel_path, "Image");
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "--loglevel=warning"), 0);
	CHECK_EQ_U64(cfg.loglevel, LOG_WARN);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "--console", "hv"), 0);
	CHECK_EQ_U64(cfg.console, CONSOLE_VIRTIO);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "--virtio-legacy"), 0);
	CHECK_EQ_U64(cfg.transport, VIRTIO_MMIO_LEGACY);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "--nodefaults", "--network", "mode=none"), 0);
	CHECK(cfg.nodefaults);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "-m", "1G"), 0);
	CHECK_EQ_U64(cfg.ram_size, 1ULL << 30);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "-m", "262144K"), 0);
	CHECK_EQ_U64(cfg.ram_size, 256ULL << 20);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "-m", "1T"), 0);
	CHECK_EQ_U64(cfg.ram_size, 1ULL << 40);
	CHECK(PARSE(&cfg, &e, "-k", "I", "-m", "1025K") < 0);
}

/* errors name the option as it was written */
TEST(options, errors_name_the_option)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK(PARSE(&cfg, &e, "-k", "I", "--rng=1") < 0);
	CHECK_STR(e.msg, "option --rng takes no value (see lkvm run --help)");
	CHECK(PARSE(&cfg, &e, "-k", "I", "--balloon") < 0);
	CHECK_STR(e.msg, "--balloon: a kvmtool option lkvm does not have (see docs/kvmtool.md)");
	CHECK(PARSE(&cfg, &e, "-k", "I", "--tty", "0") < 0);
	CHECK_CONTAINS(e.msg, "--tty: a kvmtool option");
	CHECK(PARSE(&cfg, &e, "-k", "I", "--virtio-transport", "pci") < 0);
	CHECK_CONTAINS(e.msg, "virtio-mmio only");
	CHECK(PARSE(&cfg, &e, "-k", "I", "-Z") < 0);
	CHECK_STR(e.msg, "unknown option -Z (see lkvm run --help)");
	/* inside a cluster: the letter, not the word before (found by fuzzing) */
	CHECK(PARSE(&cfg, &e, "-k", "I", "--rng", "-zc8") < 0);
	CHECK_STR(e.msg, "unknown option -z (see lkvm run --help)");
	CHECK(PARSE(&cfg, &e, "-k", "I", "--frobnicate") < 0);
	CHECK_STR(e.msg, "unknown option --frobnicate (see lkvm run --help)");
	CHECK(PARSE(&cfg, &e, "-k") < 0);
	CHECK_STR(e.msg, "option -k needs a value");
}

TEST(options, pmu_and_its)
{
	struct vm_config cfg;
	struct lkvm_err e = { "" };

	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "--pmu", "--irqchip=gicv3-its"), 0);
	CHECK(cfg.pmu);
	CHECK(cfg.its);
	CHECK_EQ_U64(cfg.irqchip, IRQCHIP_GICV3);
	CHECK_EQ_U64(PARSE(&cfg, &e, "-k", "I", "--irqchip", "gicv2"), 0);
	CHECK(!cfg.its && !cfg.pmu);
	CHECK_EQ_U64(cfg.irqchip, IRQCHIP_GICV2);
	CHECK(PARSE(&cfg, &e, "-k", "I", "--irqchip", "gicv2m") < 0);
	CHECK_CONTAINS(e.msg, "gicv2m: not in lkvm");
}
