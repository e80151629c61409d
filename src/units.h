/*-------------------------------------------------------------------------
 *
 * units.h
 *		  Exact unit conversion from C, for the mapping and sync code.
 *
 * The SQL functions (scaler.convert and friends) and these share one
 * per-backend cache of the units catalog; see units.c and docs/units.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCALER_UNITS_H
#define SCALER_UNITS_H

#include "postgres.h"

#include "utils/numeric.h"

/*
 * value converted from one unit to another of the same dimension; a NULL
 * vocabulary means none.  Errors as scaler.convert().
 */
extern Numeric scaler_unit_convert(Numeric value, const char *from_unit,
								   const char *to_unit, const char *vocabulary);

/* The catalog symbol a unit spelling stands for, as scaler.normalize_unit(). */
extern char *scaler_unit_normalize(const char *unit, const char *vocabulary);

#endif							/* SCALER_UNITS_H */
