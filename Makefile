# scaler_fdw: PGXS build.
#   make demo    set up, build, install, run the end-to-end demo
#   make test    set up, build, install, run every test suite
#   make bench   set up, build, install, run the benchmarks

MODULE_big = scaler_fdw
OBJS = \
	src/scaler_fdw.o \
	src/option.o \
	src/http.o \
	src/records.o \
	src/json_records.o \
	src/xml_records.o \
	src/rate_budget.o \
	src/profile.o \
	src/builtin_profiles.o \
	src/fetch.o \
	src/import.o \
	src/auth.o \
	src/scan.o \
	src/units.o \
	src/sync.o

EXTENSION = scaler_fdw
DATA = scaler_fdw--0.1.0.sql
PGFILEDESC = "scaler_fdw - provider energy data as foreign tables"

# pg_regress suites, one per feature (sql/*.sql, expected/*.out)
REGRESS = options scan http_errors cancel retries tls profiles auth providers xml_providers readme_example units mapping environments readiness sync roles
REGRESS_OPTS = --inputdir=.

PG_CONFIG ?= pg_config
PKG_CONFIG ?= pkg-config
DEPS = libcurl json-c libxml-2.0

PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags $(DEPS))
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs $(DEPS))

# LLVM bitcode only serves JIT inlining of our functions into queries, which
# an HTTP-bound scan does not profit from; skipping it spares a clang dependency.
override with_llvm = no

# Rebuild objects when a header they include changes.
override autodepend = yes

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Built-in provider profiles are embedded in the library from profiles/*.json.
PROFILES = $(sort $(wildcard $(srcdir)/profiles/*.json))
src/builtin_profiles.c: $(PROFILES) src/gen_builtin_profiles.sh
	sh $(srcdir)/src/gen_builtin_profiles.sh $(PROFILES) > $@.tmp && mv $@.tmp $@
EXTRA_CLEAN = src/builtin_profiles.c

.PHONY: setup demo test bench
setup:
	bash test/setup.sh

demo: setup
	bash test/demo.sh

test: setup
	bash test/run_tests.sh

bench: setup
	bash test/bench/run_bench.sh
