/*-------------------------------------------------------------------------
 *
 * units.c
 *		  Exact unit conversion for energy, volume, mass and power in the
 *		  unit vocabularies of providers; fuel quantities to energy; register
 *		  readings to consumption.
 *
 * The catalog is five tables of schema scaler (unit, unit_alias, fuel,
 * fuel_alias, fuel_heat_content) that users extend with rows.  A backend
 * reads them once into a cache.  Row changes send no invalidation on their
 * own, so a row trigger (ENABLE ALWAYS, so replication apply fires it too)
 * on each table sends a relcache invalidation for it; our relcache callback
 * counts those, and a cache read before the latest one is read again on
 * next use: in the modifying backend after the modifying command, in the
 * others after commit.  The tables are read with a fresh catalog snapshot,
 * as system catalogs are, so a reload always sees every change whose
 * invalidation has arrived.
 *
 * Matching: a spelling is matched against unit symbols in exact case
 * first, then against aliases (of the vocabulary, then common), then
 * against symbols ignoring case, where two symbols that differ only in case
 * are an error and so is a symbol whose m or M is an SI prefix (milli or
 * mega).  Triggers keep aliases off other units' symbol keys; this code
 * never relies on them to avoid a guess.
 *
 * Exactness: factors are exact decimals.  A conversion multiplies by the
 * ratio of the factors reduced to lowest terms N/D.  When N/D is a
 * terminating decimal R, the result is value * R, exact.  Otherwise it is
 * value * N / D by numeric division (at least 16 significant digits and
 * never fewer decimal places than the value has), trailing zeros removed.
 * So a -> b -> a returns the input whenever a -> b is exact (kWh -> MJ,
 * ft3 -> m3), since the way back divides an exact product.  A nonzero
 * value whose result rounds to zero is an error, not 0.
 *
 * Caching: the catalog cache also keeps every ratio it has resolved, keyed
 * by the function and the bytes of its unit arguments, and each call site
 * keeps pointers to the last few it used in fn_extra; so converting a
 * column costs one numeric multiplication a row however many units it
 * mixes, and the C API shares the same entries.
 *
 *-------------------------------------------------------------------------
 */
#include "scaler_fdw.h"
#include "units.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#define UNITS_SCHEMA		"scaler"
#define UNIT_KEY_MAX		128 /* bytes of a matching key, with the NUL */
#define COMMON_VOCABULARY	"common"
#define ESPI_VOCABULARY		"espi"
#define CALL_SLOTS			8	/* resolved argument sets kept per call site */
#define MAX_SUGGESTIONS		3
#define SHOWN_MAX			64	/* characters of an input an error echoes */
#define RESULT_KEY_MAX		1024	/* longer argument sets are not cached */
#define RESULT_CACHE_MAX	16384	/* entries; past it the cache starts over */

PG_FUNCTION_INFO_V1(scaler_unit_key);
PG_FUNCTION_INFO_V1(scaler_unit_exact_key);
PG_FUNCTION_INFO_V1(scaler_convert);
PG_FUNCTION_INFO_V1(scaler_normalize_unit);
PG_FUNCTION_INFO_V1(scaler_espi_unit);
PG_FUNCTION_INFO_V1(scaler_convert_fuel);
PG_FUNCTION_INFO_V1(scaler_uk_gas_kwh);
PG_FUNCTION_INFO_V1(scaler_register_consumption);
PG_FUNCTION_INFO_V1(scaler_units_catalog_changed);

/* ---------- the catalog cache ---------- */

typedef struct UnitDef
{
	char		symbol[UNIT_KEY_MAX];	/* hash key */
	char	   *dimension;
	char	   *description;
	Numeric		factor;			/* exact, in the dimension's base unit */
	bool		prefix_case;	/* its m or M is an SI prefix: match exact case */
} UnitDef;

/* A symbol by its key with case kept. */
typedef struct ExactEntry
{
	char		key[UNIT_KEY_MAX];	/* hash key */
	UnitDef    *unit;
} ExactEntry;

/* One meaning of a matching key: the unit it stands for in a vocabulary. */
typedef struct UnitTerm
{
	char	   *vocabulary;
	char	   *alias;			/* as written in scaler.unit_alias */
	UnitDef    *unit;
	bool		builtin;
} UnitTerm;

typedef struct UnitKeyEntry
{
	char		key[UNIT_KEY_MAX];	/* hash key */
	int			nsymbols;		/* units whose symbols have this key */
	UnitDef    *symbols[2];		/* two are enough to be ambiguous */
	int			nterms;
	int			maxterms;
	UnitTerm   *terms;
	/* a vocabulary gives it another unit than common does */
	bool		common_contested;
} UnitKeyEntry;

typedef struct HeatContent
{
	char	   *country;
	UnitDef    *per_unit;
	Numeric		heat_content;
	UnitDef    *heat_unit;
	bool		reference;
	bool		builtin;
} HeatContent;

typedef struct FuelDef
{
	char		name[UNIT_KEY_MAX]; /* hash key */
	char	   *variant_of;		/* the fuel it is a form of, or NULL */
	int			nrows;
	int			maxrows;
	HeatContent *rows;
	int			nvariants;
	struct FuelDef **variants;	/* its forms, by name */
} FuelDef;

/* Which row gives a fuel key its meaning: the lowest rank wins. */
#define FUEL_RANK_NAME		0
#define FUEL_RANK_USER		1	/* a user's alias */
#define FUEL_RANK_BUILTIN	2	/* a built-in alias */

typedef struct FuelKeyEntry
{
	char		key[UNIT_KEY_MAX];	/* hash key */
	FuelDef    *fuel;
	int			rank;
	FuelDef    *conflict;		/* another fuel of the same rank, or NULL */
} FuelKeyEntry;

/* A ratio to multiply by: value * mul, or value * mul / div. */
typedef struct UnitRatio
{
	Numeric		mul;
	Numeric		div;			/* NULL when the ratio is a terminating decimal */
	bool		identity;
} UnitRatio;

/* Two units, by address in one catalog read. */
typedef struct PairKey
{
	UnitDef    *from;
	UnitDef    *to;
} PairKey;

typedef struct PairEntry
{
	PairKey		key;
	UnitRatio	ratio;
} PairEntry;

/*
 * A function's resolved answer for the bytes of its unit arguments (see
 * call_key_add); the bytes live in the cache's context.
 */
typedef struct ResultKey
{
	const char *bytes;
	int			len;
} ResultKey;

typedef struct CachedResult
{
	ResultKey	key;
	UnitRatio	ratio;
	const char *symbol;			/* normalize_unit's answer */
} CachedResult;

typedef struct UnitsCatalog
{
	MemoryContext cxt;			/* holds all of it */
	uint64		inval_count;	/* catalog_inval_count when it was read */
	HTAB	   *units;			/* symbol -> UnitDef */
	HTAB	   *keys;			/* unit key -> UnitKeyEntry */
	HTAB	   *fuels;			/* fuel name -> FuelDef */
	HTAB	   *fuel_keys;		/* fuel key -> FuelKeyEntry */
	HTAB	   *exact;			/* symbol key with case kept -> ExactEntry */
	HTAB	   *pairs;			/* (from, to) -> PairEntry */
	MemoryContext results_cxt;	/* results and their keys */
	HTAB	   *results;		/* argument bytes -> CachedResult */
	int			nvocabularies;
	char	  **vocabularies;	/* sorted */
} UnitsCatalog;

static const char *const catalog_tables[] = {
	"unit", "unit_alias", "fuel", "fuel_alias", "fuel_heat_content"
};
#define N_CATALOG_TABLES lengthof(catalog_tables)

static UnitsCatalog *current_catalog = NULL;
static Oid	catalog_relids[N_CATALOG_TABLES];
static uint64 catalog_inval_count = 0;
static bool callback_registered = false;

/*
 * Bumped whenever cached results are dropped (a catalog read, a full result
 * cache), so call sites know their pointers into them are stale.
 */
static uint64 results_epoch = 0;

static char *shown_input(const char *s, int len);
static UnitTerm *find_term(UnitKeyEntry *e, const char *vocabulary);

/* ---------- numeric helpers: all arithmetic is PostgreSQL's ---------- */

static Numeric
num_in(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

static Numeric
num_pow10(int e)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "1e%d", e);
	return num_in(buf);
}

static Numeric
num_mul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

static Numeric
num_sub(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a, b, NULL);
}

static Numeric
num_add(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

static Numeric
num_div_trunc(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
											   NumericGetDatum(a),
											   NumericGetDatum(b)));
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

static int
num_sign(Numeric a)
{
	return num_cmp(a, int64_to_numeric(0));
}

static bool
num_is_finite(Numeric a)
{
	return !numeric_is_nan(a) && !numeric_is_inf(a);
}

static int
num_scale(Numeric a)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(a)));
}

static Numeric
num_trim(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale,
											   NumericGetDatum(a)));
}

static Numeric
num_copy(Numeric a)
{
	return (Numeric) DatumGetPointer(datumCopy(NumericGetDatum(a), false, -1));
}

static char *
num_out(Numeric a)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(a)));
}

/*
 * num / den (both positive and finite) reduced to lowest terms.  When the
 * denominator has no prime factors but 2 and 5 the quotient terminates and
 * is computed exactly; otherwise the reduced integers are kept for a
 * division per value.
 */
static void
ratio_make(Numeric num, Numeric den, UnitRatio *r)
{
	static const int primes[2] = {2, 5};
	int			powers[2] = {0, 0}; /* of 2 and of 5 in b */
	int			k = Max(num_scale(num), num_scale(den));
	Numeric		one = int64_to_numeric(1);
	Numeric		a,
				b,
				g,
				rest;

	/* integers with the same ratio */
	a = num_trim(num_mul(num, num_pow10(k)));
	b = num_trim(num_mul(den, num_pow10(k)));
	g = DatumGetNumeric(DirectFunctionCall2(numeric_gcd, NumericGetDatum(a),
											NumericGetDatum(b)));
	a = num_div_trunc(a, g);
	b = num_div_trunc(b, g);

	rest = b;
	for (int i = 0; i < 2; i++)
	{
		Numeric		prime = int64_to_numeric(primes[i]);

		for (;;)
		{
			Numeric		q = num_div_trunc(rest, prime);

			CHECK_FOR_INTERRUPTS();
			if (num_cmp(num_mul(q, prime), rest) != 0)
				break;
			rest = q;
			powers[i]++;
		}
	}

	if (num_cmp(rest, one) == 0)
	{
		int			d = Max(powers[0], powers[1]);

		/* b divides 10^d, so a / b = a * (10^d / b) * 10^-d exactly */
		r->mul = num_trim(num_mul(num_mul(a, num_div_trunc(num_pow10(d), b)),
								  num_pow10(-d)));
		r->div = NULL;
	}
	else
	{
		r->mul = a;
		r->div = b;
	}
	r->identity = r->div == NULL && num_cmp(r->mul, one) == 0;
}

/*
 * Bytes of a numeric zero (or NaN or infinity): a header and no digits.  A
 * cheap test that a result may be zero, confirmed by comparison.
 */
#define NUMERIC_DIGITLESS_SIZE (VARHDRSZ + sizeof(uint16))

static void
underflow_error(void) pg_attribute_noreturn();

static void
underflow_error(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("unit conversion underflows: a nonzero value would become 0"),
			 errdetail("The result is below what numeric keeps (1e-1000 after a division, 1e-16383 after a multiplication)."),
			 errhint("Check the units and any calorific value: a result this small is almost always a mistake.")));
}

static Numeric
ratio_apply(const UnitRatio *r, Numeric value)
{
	Numeric		x;

	if (r->identity)
		return value;
	x = num_mul(value, r->mul);
	if (r->div != NULL)
		x = num_trim(numeric_div_opt_error(x, r->div, NULL));
	/* a nonzero value must not come out as 0 */
	if (unlikely(VARSIZE_ANY(x) <= NUMERIC_DIGITLESS_SIZE) &&
		num_is_finite(x) && num_sign(x) == 0 &&
		num_is_finite(value) && num_sign(value) != 0)
		underflow_error();
	return x;
}

static void
ratio_copy(const UnitRatio *from, UnitRatio *to)
{
	to->mul = num_copy(from->mul);
	to->div = from->div ? num_copy(from->div) : NULL;
	to->identity = from->identity;
}

/* ---------- matching keys ---------- */

/*
 * The matching key of a unit or fuel spelling: ASCII letters in lower case
 * (when fold); white space and . - _ * ^ dropped; in UTF-8 (or SQL_ASCII),
 * superscript two and three read as digits and the middle dot and no-break
 * space dropped.  "KWH", "kW h" and "kWh" share a folded key, as do "m³",
 * "m^3" and "M3".  Writes at most outsize bytes with the NUL; returns the
 * key length, or -1 if it is longer.
 */
static int
unit_key_ext(const char *s, int len, char *out, int outsize, bool fold)
{
	/* SQL_ASCII databases mostly hold UTF-8 too */
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8 ||
		GetDatabaseEncoding() == PG_SQL_ASCII;
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		k;

		if (utf8 && c == 0xC2 && i + 1 < len)
		{
			unsigned char c2 = (unsigned char) s[i + 1];

			if (c2 == 0xB7 || c2 == 0xA0)
			{
				i++;
				continue;
			}
			if (c2 == 0xB2 || c2 == 0xB3)
			{
				i++;
				c = c2 == 0xB2 ? '2' : '3';
			}
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
			c == '\v' || c == '.' || c == '-' || c == '_' || c == '*' || c == '^')
			continue;
		k = (fold && c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : (char) c;
		if (n >= outsize - 1)
			return -1;
		out[n++] = k;
	}
	out[n] = '\0';
	return n;
}

static int
unit_key(const char *s, int len, char *out, int outsize)
{
	return unit_key_ext(s, len, out, outsize, true);
}

static text *
unit_key_text(text *t, bool fold_case)
{
	int			len = VARSIZE_ANY_EXHDR(t);
	char	   *out = palloc(len + 1);

	unit_key_ext(VARDATA_ANY(t), len, out, len + 1, fold_case);
	return cstring_to_text(out);
}

Datum
scaler_unit_key(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(unit_key_text(PG_GETARG_TEXT_PP(0), true));
}

/* The key with case kept: symbols are unique by it, so MW and mW can both be. */
Datum
scaler_unit_exact_key(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(unit_key_text(PG_GETARG_TEXT_PP(0), false));
}

/*
 * An input as an error echoes it: its first SHOWN_MAX characters, and
 * "..." if there were more, so a huge argument makes no huge message.
 */
static char *
shown_input(const char *s, int len)
{
	int			cut = pg_mbcharcliplen(s, len, SHOWN_MAX);

	if (cut >= len)
		return pnstrdup(s, len);
	return psprintf("%.*s...", cut, s);
}

static char *
shown_text(text *t)
{
	return shown_input(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* ---------- loading the catalog ---------- */

static void
units_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
	{
		catalog_inval_count++;
		return;
	}
	for (int i = 0; i < (int) N_CATALOG_TABLES; i++)
		if (catalog_relids[i] == relid)
		{
			catalog_inval_count++;
			return;
		}
}

static void
catalog_broken(const char *table, const char *what) pg_attribute_noreturn();

static void
catalog_broken(const char *table, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the units catalog table \"%s.%s\" is damaged: %s",
					UNITS_SCHEMA, table, what),
			 errhint("Reinstall the extension after dumping your own rows and mappings (pg_dump keeps them): DROP EXTENSION scaler_fdw; CREATE EXTENSION scaler_fdw CASCADE; then restore them.")));
}

static AttrNumber
column_attnum(Relation rel, const char *column)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
			return att->attnum;
	}
	catalog_broken(RelationGetRelationName(rel),
				   psprintf("column \"%s\" is missing", column));
	return InvalidAttrNumber;	/* keep compiler quiet */
}

typedef struct RowReader
{
	Relation	rel;
	HeapTuple	tuple;
} RowReader;

static Datum
row_datum(RowReader *r, const char *column, bool *isnull)
{
	return heap_getattr(r->tuple, column_attnum(r->rel, column),
						RelationGetDescr(r->rel), isnull);
}

static char *
row_text(RowReader *r, const char *column)
{
	bool		isnull;
	Datum		d = row_datum(r, column, &isnull);

	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}

static char *
row_text_notnull(RowReader *r, const char *column)
{
	char	   *s = row_text(r, column);

	if (s == NULL || strlen(s) >= UNIT_KEY_MAX)
		catalog_broken(RelationGetRelationName(r->rel),
					   psprintf("a value of column \"%s\" is missing or too long", column));
	return s;
}

static bool
row_bool(RowReader *r, const char *column)
{
	bool		isnull;
	Datum		d = row_datum(r, column, &isnull);

	return !isnull && DatumGetBool(d);
}

static Numeric
row_factor(RowReader *r, const char *column)
{
	bool		isnull;
	Datum		d = row_datum(r, column, &isnull);
	Numeric		n;

	if (isnull)
		catalog_broken(RelationGetRelationName(r->rel),
					   psprintf("a value of column \"%s\" is missing", column));
	n = DatumGetNumericCopy(d);
	if (!num_is_finite(n) || num_sign(n) <= 0)
		catalog_broken(RelationGetRelationName(r->rel),
					   psprintf("a value of column \"%s\" is not a positive number", column));
	return n;
}

static HTAB *
make_hash(const char *name, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = UNIT_KEY_MAX;
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static UnitKeyEntry *
key_entry(UnitsCatalog *cat, const char *spelling, const char *table)
{
	char		key[UNIT_KEY_MAX];
	UnitKeyEntry *e;
	bool		found;

	if (unit_key(spelling, strlen(spelling), key, sizeof(key)) <= 0)
		catalog_broken(table, psprintf("\"%s\" has no usable matching key", spelling));
	e = hash_search(cat->keys, key, HASH_ENTER, &found);
	if (!found)
	{
		e->nsymbols = 0;
		e->nterms = 0;
		e->maxterms = 0;
		e->terms = NULL;
		e->common_contested = false;
	}
	return e;
}

static void
add_term(UnitKeyEntry *e, char *vocabulary, char *alias, UnitDef *unit, bool builtin)
{
	for (int i = 0; i < e->nterms; i++)
		if (strcmp(e->terms[i].vocabulary, vocabulary) == 0)
		{
			/* a user's row overrides the built-in one */
			if (e->terms[i].builtin && !builtin)
			{
				e->terms[i].alias = alias;
				e->terms[i].unit = unit;
				e->terms[i].builtin = false;
			}
			return;
		}
	if (e->nterms == e->maxterms)
	{
		e->maxterms = Max(2, e->maxterms * 2);
		e->terms = e->terms ? repalloc(e->terms, e->maxterms * sizeof(UnitTerm))
			: palloc(e->maxterms * sizeof(UnitTerm));
	}
	e->terms[e->nterms].vocabulary = vocabulary;
	e->terms[e->nterms].alias = alias;
	e->terms[e->nterms].unit = unit;
	e->terms[e->nterms].builtin = builtin;
	e->nterms++;
}

static int
cmp_cstring_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * Fuel names and aliases share one key space.  A name wins over an alias,
 * a user's alias over a built-in one, whatever order the rows come in; two
 * rows of one rank for different fuels (the triggers refuse them) make the
 * key ambiguous, never first come first served.
 */
static void
add_fuel_key(UnitsCatalog *cat, const char *spelling, FuelDef *fuel, int rank)
{
	char		key[UNIT_KEY_MAX];
	FuelKeyEntry *e;
	bool		found;

	if (unit_key(spelling, strlen(spelling), key, sizeof(key)) <= 0)
		catalog_broken("fuel_alias", psprintf("\"%s\" has no usable matching key", spelling));
	e = hash_search(cat->fuel_keys, key, HASH_ENTER, &found);
	if (!found || rank < e->rank)
	{
		e->fuel = fuel;
		e->rank = rank;
		e->conflict = NULL;
	}
	else if (rank == e->rank && fuel != e->fuel)
	{
		/* name both in the error, in a stable order */
		if (strcmp(fuel->name, e->fuel->name) < 0)
		{
			e->conflict = e->fuel;
			e->fuel = fuel;
		}
		else if (e->conflict == NULL || strcmp(fuel->name, e->conflict->name) < 0)
			e->conflict = fuel;
	}
}

static int
cmp_fuel_ptr(const void *a, const void *b)
{
	return strcmp((*(FuelDef *const *) a)->name, (*(FuelDef *const *) b)->name);
}

/*
 * Whether a symbol's leading m or M is an SI prefix, which case alone tells
 * apart (mW, MW): the rest is a symbol itself (W in MW), or another prefix
 * goes with it (Mcal_IT beside kcal_IT).
 */
static bool
has_prefix_case(UnitsCatalog *cat, const char *symbol)
{
	static const char *const prefixes[] = {"", "k", "G", "T", "m", "M"};
	char		name[UNIT_KEY_MAX];

	if ((symbol[0] != 'm' && symbol[0] != 'M') || symbol[1] == '\0')
		return false;
	for (int i = 0; i < (int) lengthof(prefixes); i++)
	{
		snprintf(name, sizeof(name), "%s%s", prefixes[i], symbol + 1);
		if (strcmp(name, symbol) != 0 &&
			hash_search(cat->units, name, HASH_FIND, NULL) != NULL)
			return true;
	}
	return false;
}

static uint32
result_hash(const void *key, Size keysize)
{
	const ResultKey *k = key;

	return hash_bytes((const unsigned char *) k->bytes, k->len);
}

static int
result_match(const void *a, const void *b, Size keysize)
{
	const ResultKey *x = a;
	const ResultKey *y = b;

	return !(x->len == y->len && memcmp(x->bytes, y->bytes, x->len) == 0);
}

/* An empty result cache in its own context, which a reset frees whole. */
static void
results_create(UnitsCatalog *cat)
{
	HASHCTL		ctl;

	if (cat->results_cxt == NULL)
		cat->results_cxt = AllocSetContextCreate(cat->cxt, "scaler units results",
												 ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cat->results_cxt);
	ctl.keysize = sizeof(ResultKey);
	ctl.entrysize = sizeof(CachedResult);
	ctl.hash = result_hash;
	ctl.match = result_match;
	ctl.hcxt = cat->results_cxt;
	cat->results = hash_create("scaler units results", 256, &ctl,
							   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	results_epoch++;
}

/* Read the five catalog tables into a new cache. */
static UnitsCatalog *
load_catalog(void)
{
	Relation	rels[N_CATALOG_TABLES];
	Oid			nsp = get_namespace_oid(UNITS_SCHEMA, false);
	uint64		inval_count;
	Snapshot	snapshot;
	MemoryContext cxt,
				old;
	UnitsCatalog *cat;
	List	   *vocabularies = NIL;
	ListCell   *lc;
	int			i;

	for (i = 0; i < (int) N_CATALOG_TABLES; i++)
	{
		Oid			relid = get_relname_relid(catalog_tables[i], nsp);

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the units catalog table \"%s.%s\" does not exist",
							UNITS_SCHEMA, catalog_tables[i]),
					 errhint("Reinstall the extension after dumping your own rows and mappings (pg_dump keeps them): DROP EXTENSION scaler_fdw; CREATE EXTENSION scaler_fdw CASCADE; then restore them.")));
		catalog_relids[i] = relid;
	}
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(units_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	/* Locking may process invalidations: count them only after it. */
	for (i = 0; i < (int) N_CATALOG_TABLES; i++)
		rels[i] = table_open(catalog_relids[i], AccessShareLock);
	inval_count = catalog_inval_count;
	snapshot = RegisterSnapshot(GetCatalogSnapshot(catalog_relids[0]));

	/* Built under the caller's context, so an error frees the partial cache. */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "scaler units catalog",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	cat = palloc0(sizeof(UnitsCatalog));
	cat->cxt = cxt;
	cat->units = make_hash("scaler units", sizeof(UnitDef), cxt);
	cat->keys = make_hash("scaler unit keys", sizeof(UnitKeyEntry), cxt);
	cat->fuels = make_hash("scaler fuels", sizeof(FuelDef), cxt);
	cat->fuel_keys = make_hash("scaler fuel keys", sizeof(FuelKeyEntry), cxt);
	cat->exact = make_hash("scaler unit exact keys", sizeof(ExactEntry), cxt);
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(PairKey);
		ctl.entrysize = sizeof(PairEntry);
		ctl.hcxt = cxt;
		cat->pairs = hash_create("scaler unit pairs", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	for (i = 0; i < (int) N_CATALOG_TABLES; i++)
	{
		SysScanDesc scan = systable_beginscan(rels[i], InvalidOid, false,
											  snapshot, 0, NULL);
		RowReader	r;

		r.rel = rels[i];
		while ((r.tuple = systable_getnext(scan)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			if (i == 0)			/* unit */
			{
				char	   *symbol = row_text_notnull(&r, "symbol");
				UnitDef    *u = hash_search(cat->units, symbol, HASH_ENTER, NULL);
				UnitKeyEntry *e;
				ExactEntry *x;
				char		exact[UNIT_KEY_MAX];

				u->dimension = row_text_notnull(&r, "dimension");
				u->description = row_text(&r, "description");
				u->factor = row_factor(&r, "factor");
				u->prefix_case = false;
				e = key_entry(cat, symbol, catalog_tables[i]);
				if (e->nsymbols < (int) lengthof(e->symbols))
					e->symbols[e->nsymbols++] = u;
				/* in a stable order, for messages */
				if (e->nsymbols == 2 && e->symbols[1] == u &&
					strcmp(e->symbols[0]->symbol, u->symbol) > 0)
				{
					e->symbols[1] = e->symbols[0];
					e->symbols[0] = u;
				}
				/* symbols are unique by this key (index unit_symbol_key) */
				unit_key_ext(symbol, strlen(symbol), exact, sizeof(exact), false);
				x = hash_search(cat->exact, exact, HASH_ENTER, NULL);
				x->unit = u;
			}
			else if (i == 1)	/* unit_alias */
			{
				char	   *alias = row_text_notnull(&r, "alias");
				char	   *vocabulary = row_text_notnull(&r, "vocabulary");
				char	   *symbol = row_text_notnull(&r, "symbol");
				UnitDef    *u = hash_search(cat->units, symbol, HASH_FIND, NULL);

				if (u == NULL)
					catalog_broken(catalog_tables[i],
								   psprintf("alias \"%s\" names unknown unit \"%s\"", alias, symbol));
				add_term(key_entry(cat, alias, catalog_tables[i]), vocabulary, alias, u,
						 row_bool(&r, "builtin"));
				if (!list_member(vocabularies, makeString(vocabulary)))
					vocabularies = lappend(vocabularies, makeString(vocabulary));
			}
			else if (i == 2)	/* fuel */
			{
				char	   *name = row_text_notnull(&r, "fuel");
				FuelDef    *f = hash_search(cat->fuels, name, HASH_ENTER, NULL);

				f->nrows = f->maxrows = 0;
				f->rows = NULL;
				f->variant_of = row_text(&r, "variant_of");
				f->nvariants = 0;
				f->variants = NULL;
				add_fuel_key(cat, name, f, FUEL_RANK_NAME);
			}
			else if (i == 3)	/* fuel_alias */
			{
				char	   *alias = row_text_notnull(&r, "alias");
				char	   *name = row_text_notnull(&r, "fuel");
				FuelDef    *f = hash_search(cat->fuels, name, HASH_FIND, NULL);

				if (f == NULL)
					catalog_broken(catalog_tables[i],
								   psprintf("alias \"%s\" names unknown fuel \"%s\"", alias, name));
				add_fuel_key(cat, alias, f,
							 row_bool(&r, "builtin") ? FUEL_RANK_BUILTIN : FUEL_RANK_USER);
			}
			else				/* fuel_heat_content */
			{
				char	   *name = row_text_notnull(&r, "fuel");
				char	   *per_unit = row_text_notnull(&r, "per_unit");
				char	   *heat_unit = row_text_notnull(&r, "heat_content_unit");
				FuelDef    *f = hash_search(cat->fuels, name, HASH_FIND, NULL);
				HeatContent *h;

				if (f == NULL)
					catalog_broken(catalog_tables[i],
								   psprintf("a row names unknown fuel \"%s\"", name));
				if (f->nrows == f->maxrows)
				{
					f->maxrows = Max(8, f->maxrows * 2);
					f->rows = f->rows ? repalloc(f->rows, f->maxrows * sizeof(HeatContent))
						: palloc(f->maxrows * sizeof(HeatContent));
				}
				h = &f->rows[f->nrows++];
				h->country = row_text_notnull(&r, "country");
				h->per_unit = hash_search(cat->units, per_unit, HASH_FIND, NULL);
				h->heat_unit = hash_search(cat->units, heat_unit, HASH_FIND, NULL);
				if (h->per_unit == NULL || h->heat_unit == NULL)
					catalog_broken(catalog_tables[i],
								   psprintf("a row of fuel \"%s\" names an unknown unit", name));
				h->heat_content = row_factor(&r, "heat_content");
				h->reference = row_bool(&r, "reference");
				h->builtin = row_bool(&r, "builtin");
			}
		}
		systable_endscan(scan);
	}

	/* what needs every row: prefixes, contested aliases, fuel variants */
	{
		HASH_SEQ_STATUS status;
		UnitDef    *u;
		UnitKeyEntry *e;
		FuelDef    *f;

		hash_seq_init(&status, cat->units);
		while ((u = hash_seq_search(&status)) != NULL)
			u->prefix_case = has_prefix_case(cat, u->symbol);
		hash_seq_init(&status, cat->keys);
		while ((e = hash_seq_search(&status)) != NULL)
		{
			UnitTerm   *common = find_term(e, COMMON_VOCABULARY);

			for (int t = 0; common && t < e->nterms; t++)
				if (e->terms[t].unit != common->unit)
					e->common_contested = true;
		}
		hash_seq_init(&status, cat->fuels);
		while ((f = hash_seq_search(&status)) != NULL)
		{
			FuelDef    *parent;

			if (f->variant_of == NULL ||
				(parent = hash_search(cat->fuels, f->variant_of, HASH_FIND, NULL)) == NULL)
				continue;
			parent->variants = parent->variants
				? repalloc(parent->variants, (parent->nvariants + 1) * sizeof(FuelDef *))
				: palloc(sizeof(FuelDef *));
			parent->variants[parent->nvariants++] = f;
		}
		hash_seq_init(&status, cat->fuels);
		while ((f = hash_seq_search(&status)) != NULL)
			if (f->nvariants > 1)
				qsort(f->variants, f->nvariants, sizeof(FuelDef *), cmp_fuel_ptr);
	}

	cat->nvocabularies = list_length(vocabularies);
	cat->vocabularies = palloc(Max(1, cat->nvocabularies) * sizeof(char *));
	i = 0;
	foreach(lc, vocabularies)
		cat->vocabularies[i++] = strVal(lfirst(lc));
	qsort(cat->vocabularies, cat->nvocabularies, sizeof(char *), cmp_cstring_ptr);

	MemoryContextSwitchTo(old);
	UnregisterSnapshot(snapshot);
	for (i = 0; i < (int) N_CATALOG_TABLES; i++)
		table_close(rels[i], AccessShareLock);

	results_create(cat);
	cat->inval_count = inval_count;
	MemoryContextSetParent(cxt, CacheMemoryContext);
	return cat;
}

/* The current catalog, read again if a catalog table changed since. */
static UnitsCatalog *
units_catalog(void)
{
	UnitsCatalog *cat;

	if (likely(current_catalog != NULL &&
			   current_catalog->inval_count == catalog_inval_count))
		return current_catalog;
	cat = load_catalog();
	if (current_catalog != NULL)
		MemoryContextDelete(current_catalog->cxt);
	current_catalog = cat;
	return cat;
}

Datum
scaler_units_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function scaler.units_catalog_changed() must be called as a trigger")));
	/*
	 * Reaches this backend at the next command, the others at commit.  A row
	 * trigger, because logical replication apply fires no statement
	 * triggers; repeats within a command are merged.
	 */
	CacheInvalidateRelcache(trigdata->tg_relation);
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}

/* ---------- resolving unit spellings ---------- */

static bool
is_energy(const UnitDef *u)
{
	return strcmp(u->dimension, "energy") == 0;
}

static UnitTerm *
find_term(UnitKeyEntry *e, const char *vocabulary)
{
	for (int i = 0; i < e->nterms; i++)
		if (strcmp(e->terms[i].vocabulary, vocabulary) == 0)
			return &e->terms[i];
	return NULL;
}

/* Is the key usable without a vocabulary, or with this one? */
static const char *
visible_spelling(UnitKeyEntry *e, const char *vocabulary)
{
	UnitTerm   *t;

	if (vocabulary && (t = find_term(e, vocabulary)) != NULL)
		return t->alias;
	if ((t = find_term(e, COMMON_VOCABULARY)) != NULL &&
		(vocabulary == NULL || !e->common_contested))
		return t->alias;
	if (e->nsymbols > 0)
		return e->symbols[0]->symbol;
	return NULL;
}

typedef struct Suggestions
{
	int			best;
	int			n;
	const char *names[MAX_SUGGESTIONS];
} Suggestions;

static void
suggest(Suggestions *s, const char *input, int inputlen, const char *key,
		const char *name)
{
	int			d;

	if (name == NULL)
		return;
	d = varstr_levenshtein(input, inputlen, key, strlen(key), 1, 1, 1, true);
	/* plausible typos only, the closest ones */
	if (d > Max(2, inputlen / 3) || d > s->best)
		return;
	if (d < s->best)
	{
		s->best = d;
		s->n = 0;
	}
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return;
	if (s->n < MAX_SUGGESTIONS)
		s->names[s->n++] = name;
	else
	{
		/* keep the alphabetically first, for stable messages */
		int			last = 0;

		for (int i = 1; i < s->n; i++)
			if (strcmp(s->names[i], s->names[last]) > 0)
				last = i;
		if (strcmp(name, s->names[last]) < 0)
			s->names[last] = name;
	}
}

static char *
suggestion_hint(Suggestions *s)
{
	StringInfoData buf;

	if (s->n == 0)
		return NULL;
	qsort(s->names, s->n, sizeof(char *), cmp_cstring_ptr);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "Perhaps you meant ");
	for (int i = 0; i < s->n; i++)
		appendStringInfo(&buf, "%s\"%s\"", i == 0 ? "" : (i == s->n - 1 ? " or " : ", "),
						 s->names[i]);
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

static int
cmp_term_vocabulary(const void *a, const void *b)
{
	return strcmp(((const UnitTerm *) a)->vocabulary, ((const UnitTerm *) b)->vocabulary);
}

/*
 * "energy_star: short_ton; uk: long_ton", sorted by vocabulary, with common
 * or without; *first gets the first vocabulary.
 */
static char *
term_list(UnitKeyEntry *e, const char **first, bool with_common)
{
	UnitTerm   *terms = palloc(e->nterms * sizeof(UnitTerm));
	StringInfoData buf;
	int			n = 0;

	memcpy(terms, e->terms, e->nterms * sizeof(UnitTerm));
	qsort(terms, e->nterms, sizeof(UnitTerm), cmp_term_vocabulary);
	initStringInfo(&buf);
	*first = NULL;
	for (int i = 0; i < e->nterms; i++)
	{
		if (!with_common && strcmp(terms[i].vocabulary, COMMON_VOCABULARY) == 0)
			continue;
		appendStringInfo(&buf, "%s%s: %s", n++ ? "; " : "", terms[i].vocabulary,
						 terms[i].unit->symbol);
		if (*first == NULL)
			*first = terms[i].vocabulary;
	}
	return buf.data;
}

static char *
vocabulary_list(UnitsCatalog *cat)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, COMMON_VOCABULARY);
	for (int i = 0; i < cat->nvocabularies; i++)
		if (strcmp(cat->vocabularies[i], COMMON_VOCABULARY) != 0)
			appendStringInfo(&buf, ", %s", cat->vocabularies[i]);
	return buf.data;
}

/*
 * A vocabulary argument: NULL or "common" mean none; otherwise it must be
 * one the catalog uses (in lower case).
 */
static const char *
resolve_vocabulary(UnitsCatalog *cat, text *arg)
{
	char	   *v;
	int			arglen;
	int			len;
	Suggestions s = {INT_MAX, 0, {NULL}};

	if (arg == NULL)
		return NULL;
	/* vocabularies are at most 32 characters: compare no more than that */
	arglen = VARSIZE_ANY_EXHDR(arg);
	len = Min(arglen, UNIT_KEY_MAX - 1);
	v = pnstrdup(VARDATA_ANY(arg), len);
	for (char *p = v; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	if (len == arglen)
	{
		if (strcmp(v, COMMON_VOCABULARY) == 0)
			return NULL;
		for (int i = 0; i < cat->nvocabularies; i++)
			if (strcmp(cat->vocabularies[i], v) == 0)
				return cat->vocabularies[i];
		for (int i = 0; i < cat->nvocabularies; i++)
			suggest(&s, v, strlen(v), cat->vocabularies[i], cat->vocabularies[i]);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown unit vocabulary \"%s\"", shown_text(arg)),
			 errdetail("Known vocabularies: %s.", vocabulary_list(cat)),
			 s.n ? errhint("%s", suggestion_hint(&s))
			 : errhint("A vocabulary exists once scaler.unit_alias has a row for it.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The unit a spelling stands for: a symbol in exact case; else the
 * vocabulary's alias, or a common one (with a vocabulary, only if no
 * vocabulary gives the spelling another meaning); else a symbol ignoring
 * case, if only one matches and case cannot make it milli or mega.  A
 * spelling only vocabularies define needs one of them.  Never a guess.
 */
static UnitDef *
resolve_unit(UnitsCatalog *cat, const char *input, int len, const char *vocabulary)
{
	char		key[UNIT_KEY_MAX];
	int			keylen;
	UnitKeyEntry *e = NULL;
	ExactEntry *x;
	char	   *shown;
	Suggestions s = {INT_MAX, 0, {NULL}};
	char	   *hint;
	char	   *list;
	const char *first;

	/* symbols win: an alias cannot change what "kWh" means */
	if (unit_key_ext(input, len, key, sizeof(key), false) > 0 &&
		(x = hash_search(cat->exact, key, HASH_FIND, NULL)) != NULL)
		return x->unit;

	keylen = unit_key(input, len, key, sizeof(key));
	if (keylen > 0)
		e = hash_search(cat->keys, key, HASH_FIND, NULL);
	if (e != NULL)
	{
		UnitTerm   *t = NULL;
		UnitTerm   *common = find_term(e, COMMON_VOCABULARY);

		if (vocabulary)
			t = find_term(e, vocabulary);
		if (t == NULL && common && (vocabulary == NULL || !e->common_contested))
			t = common;
		/* an alias to a symbol of its own key says which case is meant */
		if (t && (e->nsymbols == 0 || t->unit == e->symbols[0] ||
				  (e->nsymbols > 1 && t->unit == e->symbols[1])))
			return t->unit;

		shown = shown_input(input, len);
		if (common && e->nsymbols == 0)
		{
			/* "therm" with a vocabulary that does not say which therm */
			list = term_list(e, &first, true);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unit \"%s\" is ambiguous in vocabulary \"%s\"", shown, vocabulary),
					 errdetail("Vocabulary \"%s\" does not define it, and vocabularies differ on it (%s); only without a vocabulary does it default to %s.",
							   vocabulary, list, common->unit->symbol),
					 errhint("Write the unit's symbol, or add the alias to vocabulary \"%s\" in scaler.unit_alias.",
							 vocabulary)));
		}
		if (e->nsymbols > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unit \"%s\" is ambiguous: ignoring case it is \"%s\" or \"%s\"",
							shown, e->symbols[0]->symbol, e->symbols[1]->symbol),
					 errdetail("\"%s\" is %s; \"%s\" is %s.",
							   e->symbols[0]->symbol, e->symbols[0]->description,
							   e->symbols[1]->symbol, e->symbols[1]->description),
					 errhint("Write the symbol in its exact case.")));
		/* symbols win over an alias to another unit (only trigger-free rows) */
		if (e->nsymbols == 1 && !e->symbols[0]->prefix_case)
			return e->symbols[0];
		if (e->nsymbols == 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unit \"%s\" must be written in exact case", shown),
					 errdetail("Ignoring case it is \"%s\" (%s), but in a symbol m is milli and M is mega, which case alone tells apart.",
							   e->symbols[0]->symbol, e->symbols[0]->description),
					 errhint("Write \"%s\", or add an alias for the data's spelling: INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES (%s, '<vocabulary>', '%s').",
							 e->symbols[0]->symbol,
							 len <= SHOWN_MAX ? quote_literal_cstr(shown) : "'<spelling>'",
							 e->symbols[0]->symbol)));

		/* only vocabularies define it */
		list = term_list(e, &first, false);
		if (vocabulary == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unit \"%s\" is ambiguous without a vocabulary", shown),
					 errdetail("Vocabularies that define it: %s.", list),
					 errhint("Pass the vocabulary of the data's source, for example vocabulary => '%s'.",
							 first)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown unit \"%s\" in vocabulary \"%s\"", shown, vocabulary),
				 errdetail("Vocabularies that define it: %s.", list),
				 errhint("Pass one of those vocabularies, or add the alias to vocabulary \"%s\" in scaler.unit_alias.",
						 vocabulary)));
	}

	if (keylen > 0)
	{
		HASH_SEQ_STATUS status;
		UnitKeyEntry *c;

		hash_seq_init(&status, cat->keys);
		while ((c = hash_seq_search(&status)) != NULL)
			suggest(&s, key, keylen, c->key, visible_spelling(c, vocabulary));
	}
	hint = suggestion_hint(&s);
	shown = shown_input(input, len);
	if (keylen == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown unit \"%s\"", shown),
				 errdetail("A unit needs a letter or a digit besides spaces and the characters . - _ * ^."),
				 errhint("A missing unit is NULL, and converts to NULL.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 vocabulary ? errmsg("unknown unit \"%s\" in vocabulary \"%s\"", shown, vocabulary)
			 : errmsg("unknown unit \"%s\"", shown),
			 errdetail("Units are matched against scaler.unit and scaler.unit_alias, ignoring case, spaces and the characters . - _ * ^."),
			 hint ? errhint("%s", hint)
			 : errhint("Add it: INSERT INTO scaler.unit_alias (alias, symbol) VALUES (%s, '<symbol>').",
					   len <= SHOWN_MAX ? quote_literal_cstr(shown) : "'<spelling>'")));
	return NULL;				/* keep compiler quiet */
}

static UnitDef *
resolve_unit_text(UnitsCatalog *cat, text *t, const char *vocabulary)
{
	return resolve_unit(cat, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), vocabulary);
}

static void
require_same_dimension(UnitDef *from, const char *from_shown,
					   UnitDef *to, const char *to_shown)
{
	bool		fuel_hint;
	bool		power_hint;

	if (strcmp(from->dimension, to->dimension) == 0)
		return;
	fuel_hint = (is_energy(from) || is_energy(to)) &&
		(strcmp(from->dimension, "volume") == 0 || strcmp(from->dimension, "mass") == 0 ||
		 strcmp(to->dimension, "volume") == 0 || strcmp(to->dimension, "mass") == 0);
	power_hint = (is_energy(from) && strcmp(to->dimension, "power") == 0) ||
		(is_energy(to) && strcmp(from->dimension, "power") == 0);
	/* the data, not the query, is wrong: not a class 42 code */
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot convert %s \"%s\" to %s \"%s\"",
					from->dimension, from_shown, to->dimension, to_shown),
			 errdetail("Unit \"%s\" (%s) measures %s and unit \"%s\" (%s) measures %s; only units of one dimension convert.",
					   from_shown, from->symbol, from->dimension,
					   to_shown, to->symbol, to->dimension),
			 fuel_hint ? errhint("A quantity of fuel becomes energy with scaler.convert_fuel(), given the fuel or its calorific value.")
			 : power_hint ? errhint("Energy is power times time: multiply by the interval's length in hours first.")
			 : 0));
}

/* ---------- cached results ---------- */

/*
 * The ratio between two units, computed once per catalog read: reducing it
 * takes a gcd, and many spellings and call sites share a pair.
 */
static const UnitRatio *
pair_ratio(UnitsCatalog *cat, UnitDef *from, UnitDef *to)
{
	PairKey		key;
	PairEntry  *p;
	bool		found;
	UnitRatio	r,
				kept;
	MemoryContext old;

	memset(&key, 0, sizeof(key));
	key.from = from;
	key.to = to;
	p = hash_search(cat->pairs, &key, HASH_FIND, NULL);
	if (p != NULL)
		return &p->ratio;
	if (from == to)
	{
		r.mul = int64_to_numeric(1);
		r.div = NULL;
		r.identity = true;
	}
	else
		ratio_make(from->factor, to->factor, &r);
	/* only the result lives as long as the catalog, not the gcd's garbage */
	old = MemoryContextSwitchTo(cat->cxt);
	ratio_copy(&r, &kept);
	MemoryContextSwitchTo(old);
	p = hash_search(cat->pairs, &key, HASH_ENTER, &found);
	p->ratio = kept;
	return &p->ratio;
}

static CachedResult *
results_find(UnitsCatalog *cat, const char *bytes, int len)
{
	ResultKey	key;

	key.bytes = bytes;
	key.len = len;
	return hash_search(cat->results, &key, HASH_FIND, NULL);
}

/*
 * Keep a function's answer for these argument bytes: a ratio, copied unless
 * it is a pair's (which lives as long as the catalog), or a symbol.  NULL
 * when the arguments are too long to be worth keeping.
 */
static CachedResult *
results_store(UnitsCatalog *cat, const char *bytes, int len,
			  const UnitRatio *ratio, bool ratio_is_pair, const char *symbol)
{
	ResultKey	key;
	CachedResult *c;
	UnitRatio	r = {NULL, NULL, false};
	MemoryContext old;
	bool		found;

	if (len > RESULT_KEY_MAX)
		return NULL;
	/* a bound on memory: start over rather than grow without end */
	if (hash_get_num_entries(cat->results) >= RESULT_CACHE_MAX)
		results_create(cat);
	old = MemoryContextSwitchTo(cat->results_cxt);
	key.bytes = memcpy(palloc(Max(len, 1)), bytes, len);
	key.len = len;
	if (ratio && ratio_is_pair)
		r = *ratio;
	else if (ratio)
		ratio_copy(ratio, &r);
	MemoryContextSwitchTo(old);
	/* all that can fail is done: the entry is complete once entered */
	c = hash_search(cat->results, &key, HASH_ENTER, &found);
	c->ratio = r;
	c->symbol = symbol;
	return c;
}

/* ---------- per-call-site cache ---------- */

typedef struct CallCache
{
	uint64		epoch;			/* results_epoch the pointers are from */
	StringInfoData key;			/* this call's key */
	int			nslots;
	int			next;			/* slot to replace when all are used */
	int			last;			/* slot of the last hit */
	CachedResult *slots[CALL_SLOTS];	/* in the catalog's result cache */
} CallCache;

/* This call site's cache, and the start of this call's key: the function. */
static CallCache *
call_cache(FunctionCallInfo fcinfo, char function)
{
	CallCache  *cc = (CallCache *) fcinfo->flinfo->fn_extra;

	if (cc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cc = palloc0(sizeof(CallCache));
		initStringInfo(&cc->key);
		cc->epoch = results_epoch;
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = cc;
	}
	if (cc->epoch != results_epoch)
	{
		cc->nslots = cc->next = cc->last = 0;
		cc->epoch = results_epoch;
	}
	resetStringInfo(&cc->key);
	appendStringInfoChar(&cc->key, function);
	return cc;
}

static void
key_add_bytes(StringInfo key, const char *bytes, int len)
{
	appendStringInfoChar(key, 'v');
	appendBinaryStringInfo(key, (char *) &len, sizeof(len));
	appendBinaryStringInfo(key, bytes, len);
}

/* Append argument argno's bytes (text or numeric) to this call's key. */
static void
call_key_add(CallCache *cc, FunctionCallInfo fcinfo, int argno)
{
	struct varlena *v;

	if (PG_ARGISNULL(argno))
	{
		appendStringInfoChar(&cc->key, 'n');
		return;
	}
	v = PG_GETARG_VARLENA_PP(argno);
	key_add_bytes(&cc->key, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
}

/*
 * The answer for this call's key: from the call site's slots, else from the
 * catalog's result cache (then kept in a slot), else NULL.
 */
static CachedResult *
call_cache_find(CallCache *cc, UnitsCatalog *cat)
{
	CachedResult *c;

	for (int n = 0; n < cc->nslots; n++)
	{
		int			i = (cc->last + n) % cc->nslots;

		c = cc->slots[i];
		if (c->key.len == cc->key.len && memcmp(c->key.bytes, cc->key.data, c->key.len) == 0)
		{
			cc->last = i;
			return c;
		}
	}
	c = results_find(cat, cc->key.data, cc->key.len);
	if (c != NULL)
	{
		if (cc->nslots < CALL_SLOTS)
			cc->last = cc->nslots++;
		else
		{
			cc->last = cc->next;
			cc->next = (cc->next + 1) % CALL_SLOTS;
		}
		cc->slots[cc->last] = c;
	}
	return c;
}

/* Keep a resolved answer for this call's key; NULL if it is not kept. */
static CachedResult *
call_cache_store(CallCache *cc, UnitsCatalog *cat, const UnitRatio *ratio,
				 bool ratio_is_pair, const char *symbol)
{
	uint64		epoch = results_epoch;
	CachedResult *c = results_store(cat, cc->key.data, cc->key.len, ratio,
									ratio_is_pair, symbol);

	/* storing may have started the result cache over */
	if (results_epoch != epoch)
	{
		cc->nslots = cc->next = cc->last = 0;
		cc->epoch = results_epoch;
	}
	return c;
}

static text *
arg_text_or_null(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : PG_GETARG_TEXT_PP(argno);
}

/* ---------- scaler.convert, scaler.normalize_unit ---------- */

/* The ratio from one spelling to another, with their errors. */
static const UnitRatio *
resolve_convert(UnitsCatalog *cat, const char *from_unit, int from_len,
				const char *to_unit, int to_len, text *vocabulary_arg)
{
	const char *vocabulary = resolve_vocabulary(cat, vocabulary_arg);
	UnitDef    *from = resolve_unit(cat, from_unit, from_len, vocabulary);
	UnitDef    *to = resolve_unit(cat, to_unit, to_len, vocabulary);

	if (strcmp(from->dimension, to->dimension) != 0)
		require_same_dimension(from, shown_input(from_unit, from_len),
							   to, shown_input(to_unit, to_len));
	return pair_ratio(cat, from, to);
}

Datum
scaler_convert(PG_FUNCTION_ARGS)
{
	UnitsCatalog *cat;
	CallCache  *cc;
	CachedResult *c;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	cat = units_catalog();
	cc = call_cache(fcinfo, 'c');
	call_key_add(cc, fcinfo, 1);
	call_key_add(cc, fcinfo, 2);
	call_key_add(cc, fcinfo, 3);
	c = call_cache_find(cc, cat);
	if (c == NULL)
	{
		text	   *from_arg = PG_GETARG_TEXT_PP(1);
		text	   *to_arg = PG_GETARG_TEXT_PP(2);
		const UnitRatio *r = resolve_convert(cat,
											 VARDATA_ANY(from_arg), VARSIZE_ANY_EXHDR(from_arg),
											 VARDATA_ANY(to_arg), VARSIZE_ANY_EXHDR(to_arg),
											 arg_text_or_null(fcinfo, 3));

		call_cache_store(cc, cat, r, true, NULL);
		PG_RETURN_NUMERIC(ratio_apply(r, PG_GETARG_NUMERIC(0)));
	}
	PG_RETURN_NUMERIC(ratio_apply(&c->ratio, PG_GETARG_NUMERIC(0)));
}

Datum
scaler_normalize_unit(PG_FUNCTION_ARGS)
{
	UnitsCatalog *cat;
	CallCache  *cc;
	CachedResult *c;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	cat = units_catalog();
	cc = call_cache(fcinfo, 'n');
	call_key_add(cc, fcinfo, 0);
	call_key_add(cc, fcinfo, 1);
	c = call_cache_find(cc, cat);
	if (c == NULL)
	{
		const char *vocabulary = resolve_vocabulary(cat, arg_text_or_null(fcinfo, 1));
		UnitDef    *u = resolve_unit_text(cat, PG_GETARG_TEXT_PP(0), vocabulary);

		call_cache_store(cc, cat, NULL, false, u->symbol);
		PG_RETURN_TEXT_P(cstring_to_text(u->symbol));
	}
	PG_RETURN_TEXT_P(cstring_to_text(c->symbol));
}

/*
 * The C API keys its answers as scaler.convert() and normalize_unit() do,
 * so they share the catalog's result cache with SQL callers.
 */
static void
api_key(StringInfo key, char function, const char *a, const char *b,
		const char *vocabulary)
{
	initStringInfo(key);
	appendStringInfoChar(key, function);
	key_add_bytes(key, a, strlen(a));
	if (b)
		key_add_bytes(key, b, strlen(b));
	if (vocabulary)
		key_add_bytes(key, vocabulary, strlen(vocabulary));
	else
		appendStringInfoChar(key, 'n');
}

Numeric
scaler_unit_convert(Numeric value, const char *from_unit, const char *to_unit,
					const char *vocabulary)
{
	UnitsCatalog *cat = units_catalog();
	StringInfoData key;
	CachedResult *c;
	const UnitRatio *r;

	api_key(&key, 'c', from_unit, to_unit, vocabulary);
	c = results_find(cat, key.data, key.len);
	if (c != NULL)
		r = &c->ratio;
	else
	{
		r = resolve_convert(cat, from_unit, strlen(from_unit), to_unit, strlen(to_unit),
							vocabulary ? cstring_to_text(vocabulary) : NULL);
		results_store(cat, key.data, key.len, r, true, NULL);
	}
	pfree(key.data);
	return ratio_apply(r, value);
}

char *
scaler_unit_normalize(const char *unit, const char *vocabulary)
{
	UnitsCatalog *cat = units_catalog();
	StringInfoData key;
	CachedResult *c;
	const char *symbol;

	api_key(&key, 'n', unit, NULL, vocabulary);
	c = results_find(cat, key.data, key.len);
	if (c != NULL)
		symbol = c->symbol;
	else
	{
		text	   *voc = vocabulary ? cstring_to_text(vocabulary) : NULL;
		const char *v = resolve_vocabulary(cat, voc);

		symbol = resolve_unit(cat, unit, strlen(unit), v)->symbol;
		results_store(cat, key.data, key.len, NULL, false, symbol);
	}
	pfree(key.data);
	return pstrdup(symbol);
}

/* ---------- scaler.espi_unit ---------- */

static int
cmp_espi_code(const void *a, const void *b)
{
	int			x = atoi(((const UnitTerm *) a)->alias);
	int			y = atoi(((const UnitTerm *) b)->alias);

	return (x > y) - (x < y);
}

/*
 * Green Button / ESPI ReadingType: uom code and powerOfTenMultiplier to a
 * unit and the exact multiplier a reading's value takes.
 */
Datum
scaler_espi_unit(PG_FUNCTION_ARGS)
{
	int32		uom = PG_GETARG_INT32(0);
	int32		power = PG_GETARG_INT32(1);
	UnitsCatalog *cat = units_catalog();
	char		code[UNIT_KEY_MAX];
	UnitKeyEntry *e;
	UnitTerm   *t = NULL;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	snprintf(code, sizeof(code), "%d", uom);
	e = hash_search(cat->keys, code, HASH_FIND, NULL);
	if (e != NULL)
		t = find_term(e, ESPI_VOCABULARY);
	if (t == NULL)
	{
		HASH_SEQ_STATUS status;
		UnitKeyEntry *c;
		UnitTerm   *codes = palloc(hash_get_num_entries(cat->keys) * sizeof(UnitTerm));
		int			n = 0;
		StringInfoData buf;

		hash_seq_init(&status, cat->keys);
		while ((c = hash_seq_search(&status)) != NULL)
		{
			UnitTerm   *ct = find_term(c, ESPI_VOCABULARY);

			if (ct)
				codes[n++] = *ct;
		}
		qsort(codes, n, sizeof(UnitTerm), cmp_espi_code);
		initStringInfo(&buf);
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s%s (%s)", i ? ", " : "", codes[i].alias,
							 codes[i].unit->symbol);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown ESPI uom code %d", uom),
				 errdetail("Known codes: %s.", n ? buf.data : "none"),
				 errhint("Add it: INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('%d', 'espi', '<symbol>').",
						 uom)));
	}
	/* ESPI's UnitMultiplierKind runs from pico (-12) to tera (12) */
	if (power < -12 || power > 12)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("ESPI powerOfTenMultiplier %d is out of range", power),
				 errdetail("ESPI multipliers run from -12 (pico) to 12 (tera).")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = CStringGetTextDatum(t->unit->symbol);
	values[1] = NumericGetDatum(num_pow10(power));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ---------- scaler.convert_fuel, scaler.uk_gas_kwh ---------- */

/* Joules in one unit, as num / den of exact decimals. */
typedef struct EnergyPer
{
	Numeric		num;
	Numeric		den;
} EnergyPer;

typedef struct FuelArgs
{
	FuelDef    *fuel;			/* NULL: not given */
	char		country[3];
	Numeric		cv;				/* calorific value, NULL: not given */
	UnitDef    *cv_energy;
	UnitDef    *cv_per;
	const char *cv_unit_shown;
} FuelArgs;

static FuelDef *
resolve_fuel(UnitsCatalog *cat, text *arg)
{
	char	   *shown = shown_text(arg);
	char		key[UNIT_KEY_MAX];
	int			keylen = unit_key(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg), key, sizeof(key));
	FuelKeyEntry *e = NULL;
	Suggestions s = {INT_MAX, 0, {NULL}};
	char	   *hint;

	if (keylen > 0)
		e = hash_search(cat->fuel_keys, key, HASH_FIND, NULL);
	if (e != NULL && e->conflict != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fuel \"%s\" is ambiguous: it names fuels \"%s\" and \"%s\"",
						shown, e->fuel->name, e->conflict->name),
				 errdetail("Two rows of scaler.fuel or scaler.fuel_alias of the same precedence give it different fuels; their triggers refuse that, so the rows came in around them."),
				 errhint("Delete or rename one of the rows.")));
	if (e != NULL)
		return e->fuel;
	if (keylen > 0)
	{
		HASH_SEQ_STATUS status;
		FuelKeyEntry *c;

		hash_seq_init(&status, cat->fuel_keys);
		while ((c = hash_seq_search(&status)) != NULL)
			suggest(&s, key, keylen, c->key, c->fuel->name);
	}
	hint = suggestion_hint(&s);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown fuel \"%s\"", shown),
			 errdetail("Fuels are the rows of scaler.fuel and scaler.fuel_alias, matched ignoring case, spaces and the characters . - _ * ^."),
			 hint ? errhint("%s", hint)
			 : errhint("See SELECT fuel FROM scaler.fuel, or add the fuel and its heat contents.")));
	return NULL;				/* keep compiler quiet */
}

static void
check_positive(Numeric n, const char *what)
{
	if (!num_is_finite(n) || num_sign(n) <= 0)
	{
		char	   *v = num_out(n);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive number, not %s", what, shown_input(v, strlen(v)))));
	}
}

/* "'propane_gas' or 'propane_liquid'": the forms to pick from */
static char *
variant_choices(FuelDef *fuel)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < fuel->nvariants; i++)
		appendStringInfo(&buf, "%sfuel => '%s'",
						 i == 0 ? "" : (i == fuel->nvariants - 1 ? " or " : ", "),
						 fuel->variants[i]->name);
	return buf.data;
}

/*
 * The heat content row for a quantity in unit u: the row for u itself, else
 * the reference row of u's dimension.  Users' rows are searched before the
 * built-in ones, so one user row overrides a fuel's built-in defaults.  Two
 * reference rows of one dimension (the check trigger refuses them) are an
 * error, not a choice.
 */
static HeatContent *
heat_row(const FuelArgs *fa, UnitDef *u)
{
	const char **names = palloc(Max(1, fa->fuel->nrows) * sizeof(char *));
	bool		country_known = false;
	int			n = 0;
	StringInfoData buf;

	for (int pass = 0; pass < 2; pass++)
	{
		HeatContent *ref = NULL;

		for (int i = 0; i < fa->fuel->nrows; i++)
		{
			HeatContent *h = &fa->fuel->rows[i];

			if (h->builtin != (pass == 1) || strcmp(h->country, fa->country) != 0)
				continue;
			country_known = true;
			if (h->per_unit == u)
				return h;
			if (!h->reference || strcmp(h->per_unit->dimension, u->dimension) != 0)
				continue;
			if (ref != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("fuel \"%s\" has two reference heat contents per %s unit in country \"%s\"",
								fa->fuel->name, u->dimension, fa->country),
						 errdetail("The %s rows per \"%s\" and per \"%s\" are both marked reference.",
								   pass == 0 ? "user's" : "built-in",
								   ref->per_unit->symbol, h->per_unit->symbol),
						 errhint("Set reference = false on one of them in scaler.fuel_heat_content.")));
			ref = h;
		}
		if (ref)
			return ref;
	}

	/* what the fuel has: its countries, or its units in this country */
	for (int i = 0; i < fa->fuel->nrows; i++)
	{
		HeatContent *h = &fa->fuel->rows[i];

		if (!country_known)
			names[n++] = h->country;
		else if (strcmp(h->country, fa->country) == 0)
			names[n++] = h->per_unit->symbol;
	}
	qsort(names, n, sizeof(char *), cmp_cstring_ptr);
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", names[i]);

	if (!country_known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fuel \"%s\" has no default heat content for country \"%s\"",
						fa->fuel->name, fa->country),
				 buf.len ? errdetail("Countries with defaults for it: %s.", buf.data)
				 : errdetail("No country has defaults for it."),
				 errhint("Pass calorific_value and calorific_value_unit, such as 39.5 and 'MJ/m3'.")));
	/* a fuel with forms (liquid, gas) never guesses one of them */
	if (fa->fuel->nvariants > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fuel \"%s\" has no heat content per \"%s\" in country \"%s\": say which form it is",
						fa->fuel->name, u->symbol, fa->country),
				 buf.len ? errdetail("Fuel \"%s\" comes in more than one form, so it has defaults only for the units that tell the form: %s.",
									 fa->fuel->name, buf.data)
				 : errdetail("Fuel \"%s\" comes in more than one form.", fa->fuel->name),
				 errhint("Pass %s, or calorific_value and calorific_value_unit.",
						 variant_choices(fa->fuel))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("fuel \"%s\" has no default heat content per %s unit in country \"%s\"",
					fa->fuel->name, u->dimension, fa->country),
			 errdetail("Units with defaults: %s.", buf.data),
			 errhint("Pass calorific_value and calorific_value_unit, or add a reference row to scaler.fuel_heat_content.")));
	return NULL;				/* keep compiler quiet */
}

static EnergyPer
energy_per(const FuelArgs *fa, UnitDef *u, const char *shown)
{
	EnergyPer	e;
	HeatContent *h;

	if (is_energy(u))
	{
		e.num = u->factor;
		e.den = int64_to_numeric(1);
		return e;
	}
	if (fa->cv)
	{
		if (strcmp(fa->cv_per->dimension, u->dimension) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("calorific value unit \"%s\" is per %s but unit \"%s\" measures %s",
							fa->cv_unit_shown, fa->cv_per->dimension, shown, u->dimension),
					 errhint("Give the calorific value per %s unit.", u->dimension)));
		/* cv energy units per cv_per unit, in joules per unit u */
		e.num = num_mul(num_mul(fa->cv, fa->cv_energy->factor), u->factor);
		e.den = fa->cv_per->factor;
		return e;
	}
	if (fa->fuel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("converting %s \"%s\" to or from energy needs a fuel or a calorific value",
						u->dimension, shown),
				 errhint("Pass fuel => 'natural_gas' (defaults from scaler.fuel_heat_content), or calorific_value => 39.5, calorific_value_unit => 'MJ/m3'.")));
	h = heat_row(fa, u);
	if (!is_energy(h->heat_unit))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("heat content of fuel \"%s\" per \"%s\" is in \"%s\", which is not an energy unit",
						fa->fuel->name, h->per_unit->symbol, h->heat_unit->symbol),
				 errhint("Correct the row in scaler.fuel_heat_content.")));
	/* heat_content heat_units per per_unit, in joules per unit u */
	e.num = num_mul(num_mul(h->heat_content, h->heat_unit->factor), u->factor);
	e.den = h->per_unit->factor;
	return e;
}

static void
parse_fuel_args(UnitsCatalog *cat, FunctionCallInfo fcinfo, const char *vocabulary,
				FuelArgs *fa)
{
	text	   *unit_arg = arg_text_or_null(fcinfo, 6);

	memset(fa, 0, sizeof(*fa));
	if (!PG_ARGISNULL(3))
		fa->fuel = resolve_fuel(cat, PG_GETARG_TEXT_PP(3));
	/* ENERGY STAR's default country; NULL means the default too */
	strcpy(fa->country, "US");
	if (!PG_ARGISNULL(4))
	{
		text	   *t = PG_GETARG_TEXT_PP(4);
		const char *c = VARDATA_ANY(t);
		char		u0,
					u1;

		if (VARSIZE_ANY_EXHDR(t) != 2 ||
			(u0 = pg_ascii_toupper((unsigned char) c[0])) < 'A' || u0 > 'Z' ||
			(u1 = pg_ascii_toupper((unsigned char) c[1])) < 'A' || u1 > 'Z')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid country \"%s\"", shown_text(t)),
					 errhint("Use an ISO 3166-1 alpha-2 code, such as US or CA.")));
		fa->country[0] = u0;
		fa->country[1] = u1;
		fa->country[2] = '\0';
	}
	/* a unit without its value would be silently ignored */
	if (PG_ARGISNULL(5) && unit_arg != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("calorific_value_unit needs calorific_value"),
				 errdetail("calorific_value_unit is \"%s\" but calorific_value is NULL.",
						   shown_text(unit_arg)),
				 errhint("Pass the calorific value too, or neither of them to use the fuel's defaults.")));
	if (!PG_ARGISNULL(5))
	{
		const char *unit;
		int			len;
		const char *slash;

		fa->cv = PG_GETARG_NUMERIC(5);
		check_positive(fa->cv, "calorific_value");
		if (unit_arg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("calorific_value needs calorific_value_unit"),
					 errhint("Pass an energy per volume or mass, such as 'MJ/m3', 'Btu/cf' or 'MJ/kg'.")));
		unit = VARDATA_ANY(unit_arg);
		len = VARSIZE_ANY_EXHDR(unit_arg);
		fa->cv_unit_shown = shown_text(unit_arg);
		slash = memchr(unit, '/', len);
		if (slash == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid calorific_value_unit \"%s\"", fa->cv_unit_shown),
					 errdetail("It must be an energy unit, a slash, and a volume or mass unit."),
					 errhint("For example 'MJ/m3', 'Btu/cf' or 'MJ/kg'.")));
		fa->cv_energy = resolve_unit(cat, unit, slash - unit, vocabulary);
		fa->cv_per = resolve_unit(cat, slash + 1, len - (slash + 1 - unit), vocabulary);
		if (!is_energy(fa->cv_energy) || is_energy(fa->cv_per))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid calorific_value_unit \"%s\"", fa->cv_unit_shown),
					 errdetail("It reads as %s per %s; a calorific value is energy per volume or mass.",
							   fa->cv_energy->dimension, fa->cv_per->dimension),
					 errhint("For example 'MJ/m3', 'Btu/cf' or 'MJ/kg'.")));
	}
}

/*
 * A quantity of fuel to energy, or energy to a quantity of fuel.  Two units
 * of one dimension convert exactly, as scaler.convert() does: a heat
 * content is for crossing dimensions, never for m3 to ft3.
 */
Datum
scaler_convert_fuel(PG_FUNCTION_ARGS)
{
	UnitsCatalog *cat;
	CallCache  *cc;
	CachedResult *c;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	cat = units_catalog();
	cc = call_cache(fcinfo, 'f');
	for (int i = 1; i <= 7; i++)
		call_key_add(cc, fcinfo, i);
	c = call_cache_find(cc, cat);
	if (c == NULL)
	{
		const char *vocabulary = resolve_vocabulary(cat, arg_text_or_null(fcinfo, 7));
		char	   *from_shown = shown_text(PG_GETARG_TEXT_PP(1));
		char	   *to_shown = shown_text(PG_GETARG_TEXT_PP(2));
		UnitDef    *from = resolve_unit_text(cat, PG_GETARG_TEXT_PP(1), vocabulary);
		UnitDef    *to = resolve_unit_text(cat, PG_GETARG_TEXT_PP(2), vocabulary);
		FuelArgs	fa;
		EnergyPer	ef,
					et;
		UnitRatio	r;

		parse_fuel_args(cat, fcinfo, vocabulary, &fa);
		if (strcmp(from->dimension, to->dimension) == 0)
		{
			const UnitRatio *pr = pair_ratio(cat, from, to);

			call_cache_store(cc, cat, pr, true, NULL);
			PG_RETURN_NUMERIC(ratio_apply(pr, PG_GETARG_NUMERIC(0)));
		}
		ef = energy_per(&fa, from, from_shown);
		et = energy_per(&fa, to, to_shown);
		/* (ef.num / ef.den) / (et.num / et.den) */
		ratio_make(num_mul(ef.num, et.den), num_mul(ef.den, et.num), &r);
		call_cache_store(cc, cat, &r, false, NULL);
		PG_RETURN_NUMERIC(ratio_apply(&r, PG_GETARG_NUMERIC(0)));
	}
	PG_RETURN_NUMERIC(ratio_apply(&c->ratio, PG_GETARG_NUMERIC(0)));
}

/*
 * UK gas billing (Gas (Calculation of Thermal Energy) Regulations 1996):
 * kWh = m3 * volume correction * calorific value (MJ/m3) / 3.6.  An
 * imperial meter's hundreds of cubic feet become m3 at imperial_factor m3
 * each, 2.83 as bills use unless told otherwise; any other volume unit
 * converts exactly.
 */
Datum
scaler_uk_gas_kwh(PG_FUNCTION_ARGS)
{
	UnitsCatalog *cat = units_catalog();
	CallCache  *cc = call_cache(fcinfo, 'u');
	CachedResult *c;

	for (int i = 1; i <= 4; i++)
		call_key_add(cc, fcinfo, i);
	c = call_cache_find(cc, cat);
	if (c == NULL)
	{
		text	   *unit_arg = PG_GETARG_TEXT_PP(1);
		UnitDef    *u = resolve_unit_text(cat, unit_arg, NULL);
		UnitDef    *ft3 = hash_search(cat->units, "ft3", HASH_FIND, NULL);
		Numeric		cv = PG_GETARG_NUMERIC(2);
		Numeric		correction = PG_GETARG_NUMERIC(3);
		Numeric		imperial = PG_GETARG_NUMERIC(4);
		Numeric		m3 = u->factor;
		UnitRatio	r;

		if (strcmp(u->dimension, "volume") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the UK gas formula takes a volume, not %s \"%s\"",
							u->dimension, shown_text(unit_arg)),
					 errhint("Meters read in m3, or in hcf (hundreds of cubic feet) for imperial meters.")));
		check_positive(cv, "calorific_value");
		check_positive(correction, "volume_correction");
		check_positive(imperial, "imperial_factor");
		/* a whole number of cubic feet (ft3, hcf, kcf): bills' factor per hcf */
		if (ft3 != NULL && strcmp(ft3->dimension, "volume") == 0)
		{
			Numeric		n = num_div_trunc(u->factor, ft3->factor);

			if (num_sign(n) > 0 && num_cmp(num_mul(n, ft3->factor), u->factor) == 0)
				m3 = num_mul(num_mul(n, imperial), num_pow10(-2));
		}
		/* m3 per unit; 3.6 MJ make a kWh */
		ratio_make(num_mul(num_mul(m3, correction), cv), num_in("3.6"), &r);
		call_cache_store(cc, cat, &r, false, NULL);
		PG_RETURN_NUMERIC(ratio_apply(&r, PG_GETARG_NUMERIC(0)));
	}
	PG_RETURN_NUMERIC(ratio_apply(&c->ratio, PG_GETARG_NUMERIC(0)));
}

/* ---------- scaler.register_consumption ---------- */

typedef struct RegisterRead
{
	TimestampTz at;
	Numeric		value;
	int			index;			/* input position: ties keep input order */
} RegisterRead;

static int
cmp_register_read(const void *a, const void *b)
{
	const RegisterRead *x = a;
	const RegisterRead *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Cumulative register readings to the consumption of each period between
 * consecutive readings.  A drop is a rollover when a register maximum is
 * declared (rollover_at: the reading at which it wraps to zero) and the
 * drop exceeds half of it; a reset when the new reading is below half the
 * previous one; otherwise a negative delta.  Resets and negative deltas are
 * flagged with a NULL consumption, never passed on.  Readings that are NULL
 * or not finite are skipped: the period spans the gap.
 */
Datum
scaler_register_consumption(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *times_arr,
			   *values_arr;
	Datum	   *times,
			   *values;
	bool	   *times_null,
			   *values_null;
	int			ntimes,
				nvalues,
				n = 0;
	Numeric		rollover_at = NULL;
	Numeric		two = int64_to_numeric(2);
	RegisterRead *reads;
	MemoryContext rowcxt,
				old;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	times_arr = PG_GETARG_ARRAYTYPE_P(0);
	values_arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(times_arr) > 1 || ARR_NDIM(values_arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("read_times and readings must be one-dimensional arrays"),
				 errhint("array_agg(... ORDER BY read_time) over the readings of one meter builds them.")));
	if (!PG_ARGISNULL(2))
	{
		rollover_at = PG_GETARG_NUMERIC(2);
		check_positive(rollover_at, "rollover_at");
	}
	deconstruct_array(times_arr, TIMESTAMPTZOID, sizeof(TimestampTz), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &times, &times_null, &ntimes);
	deconstruct_array(values_arr, NUMERICOID, -1, false, TYPALIGN_INT,
					  &values, &values_null, &nvalues);
	if (ntimes != nvalues)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("read_times and readings differ in length: %d and %d", ntimes, nvalues),
				 errhint("Pass one read time for each reading, in the same order.")));

	reads = palloc(Max(1, ntimes) * sizeof(RegisterRead));
	for (int i = 0; i < ntimes; i++)
	{
		Numeric		v;

		if (times_null[i] || values_null[i])
			continue;
		v = DatumGetNumeric(values[i]);
		if (!num_is_finite(v) || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(times[i])))
			continue;
		reads[n].at = DatumGetTimestampTz(times[i]);
		reads[n].value = v;
		reads[n].index = i;
		n++;
	}
	qsort(reads, n, sizeof(RegisterRead), cmp_register_read);

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "scaler register row",
								   ALLOCSET_SMALL_SIZES);
	for (int i = 1; i < n; i++)
	{
		RegisterRead *prev = &reads[i - 1];
		RegisterRead *cur = &reads[i];
		Datum		row[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		const char *status;
		Numeric		consumption = NULL;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(rowcxt);
		if (cur->at == prev->at)
		{
			/* a reading sent twice is harmless; two different ones conflict */
			if (num_cmp(cur->value, prev->value) == 0)
			{
				MemoryContextSwitchTo(old);
				continue;
			}
			status = "conflict";
		}
		else if (num_cmp(cur->value, prev->value) >= 0)
		{
			status = "ok";
			consumption = num_sub(cur->value, prev->value);
		}
		else if (rollover_at != NULL &&
				 num_sign(cur->value) >= 0 && num_sign(prev->value) >= 0 &&
				 num_cmp(prev->value, rollover_at) < 0 &&
				 num_cmp(num_mul(two, num_sub(prev->value, cur->value)), rollover_at) > 0)
		{
			status = "rollover";
			consumption = num_add(num_sub(rollover_at, prev->value), cur->value);
		}
		else if (num_sign(cur->value) >= 0 &&
				 num_cmp(num_mul(two, cur->value), prev->value) < 0)
			status = "reset";
		else
			status = "negative";

		row[0] = TimestampTzGetDatum(prev->at);
		row[1] = TimestampTzGetDatum(cur->at);
		row[2] = NumericGetDatum(prev->value);
		row[3] = NumericGetDatum(cur->value);
		if (consumption)
			row[4] = NumericGetDatum(consumption);
		else
			nulls[4] = true;
		row[5] = CStringGetTextDatum(status);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}
