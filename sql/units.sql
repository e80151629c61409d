-- Exact unit conversion (src/units.c, docs/units.md).
-- Expected values come from the definitions, cited where they are used:
--   [SI]   BIPM, The International System of Units, 9th edition (2019)
--   [NIST] NIST Special Publication 811 (2008), Guide for the Use of the SI,
--          Appendix B.8 (exact factors are printed in bold there)
--   [ES]   ENERGY STAR Portfolio Manager Technical Reference: Thermal Energy
--          Conversions, August 2015, Figure 3 (kBtu per unit; US and Canada)
--   [UK]   Gas (Calculation of Thermal Energy) Regulations 1996
--   [ESPI] NAESB REQ.21 ESPI (Green Button): ReadingType uom and
--          powerOfTenMultiplier
-- and shared/reference/units.md, which restates them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS scaler_fdw CASCADE;

-- Errors are shown in full where they first appear; elsewhere only their
-- SQLSTATE, from this helper.
CREATE FUNCTION pg_temp.sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END
$$;
-- the length of an error's message, detail and hint together
CREATE FUNCTION pg_temp.error_length(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  m text;
  d text;
  h text;
BEGIN
  EXECUTE q;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
  RETURN length(m) + coalesce(length(d), 0) + coalesce(length(h), 0);
END
$$;

-- the catalog, as installed
SELECT (SELECT count(*) FROM scaler.unit) AS units,
       (SELECT count(*) FROM scaler.unit_alias) AS aliases,
       (SELECT count(*) FROM scaler.fuel) AS fuels,
       (SELECT count(*) FROM scaler.fuel_heat_content) AS heat_contents;
SELECT dimension, string_agg(symbol || '=' || factor, ' ' ORDER BY factor, symbol)
  FROM scaler.unit GROUP BY dimension ORDER BY dimension;
SELECT vocabulary, count(*) FROM scaler.unit_alias GROUP BY vocabulary ORDER BY vocabulary;
-- users' rows survive pg_dump; built-in ones are recreated by the extension
SELECT c.relname, e.cond
  FROM pg_extension x,
       unnest(x.extconfig, x.extcondition) AS e(cfg, cond)
       JOIN pg_class c ON c.oid = e.cfg
 WHERE x.extname = 'scaler_fdw' AND c.relname !~ '(mapping|^scaler_|^match_|^sync_)' ORDER BY 1;

-- ==== exact definitions ====
-- [SI] 1 Wh = 3600 J, 1 kWh = 3.6 MJ; [NIST] Btu (IT) = 1055.05585262 J,
-- therm (US) = 105 480 400 J, therm (EC) = 105 506 000 J, kcal (IT) =
-- 4186.8 J, ft = 0.3048 m so ft3 = 0.028316846592 m3, US gallon =
-- 231 in3 = 3.785411784 L, imperial gallon = 4.54609 L, lb = 0.45359237 kg,
-- short ton = 2000 lb, long ton = 2240 lb; toe = 10^7 kcal (IT) = 41.868 GJ,
-- tce = 7 * 10^6 kcal (IT) = 29.3076 GJ; refrigeration ton-hour = 12 000 Btu;
-- dekatherm = 10 therms; MMBtu = 10^6 Btu.
SELECT f, t, scaler.convert(1, f, t) AS one_f_in_t, expected,
       scaler.convert(1, f, t) = expected AS exact
  FROM (VALUES
    ('Wh', 'J', 3600), ('kWh', 'MJ', 3.6), ('MWh', 'GJ', 3.6), ('kWh', 'Wh', 1000),
    ('Btu', 'J', 1055.05585262), ('kBtu', 'kJ', 1055.05585262),
    ('MMBtu', 'Btu', 1000000), ('therm', 'J', 105480400),
    ('therm (EC)', 'J', 105506000), ('Dth', 'therm', 10), ('kcal (IT)', 'J', 4186.8),
    ('toe', 'GJ', 41.868), ('tce', 'GJ', 29.3076), ('toe', 'kcal (IT)', 10000000),
    ('ton-hour', 'Btu', 12000),
    ('ft3', 'm3', 0.028316846592), ('ccf', 'ft3', 100), ('hcf', 'm3', 2.8316846592),
    ('Mcf (thousand cubic feet)', 'ft3', 1000), ('MMcf', 'ft3', 1000000),
    ('US gallon', 'L', 3.785411784), ('imperial gallon', 'L', 4.54609),
    ('bbl', 'US gallon', 42), ('cubic yard', 'ft3', 27), ('m3', 'L', 1000),
    ('lb', 'kg', 0.45359237), ('short ton', 'lb', 2000), ('long ton', 'lb', 2240),
    ('short ton', 'kg', 907.18474), ('tonne', 'kg', 1000), ('klb', 'lb', 1000),
    ('kW', 'W', 1000), ('MW', 'kW', 1000), ('kvarh', 'varh', 1000), ('kVA', 'VA', 1000)
  ) AS c(f, t, expected);

-- A ratio that is no terminating decimal is divided per value: numeric
-- division, at least 16 significant digits, never fewer decimal places than
-- the value has, trailing zeros removed.  1 kWh = 3 600 000 / 1055.05585262 Btu.
SELECT scaler.convert(1, 'kWh', 'Btu') AS kwh_in_btu,
       round(3600000 / 1055.05585262::numeric(40, 30), 25) AS to_25_places;
SELECT scaler.convert(1, 'therm', 'kWh') AS us_therm_in_kwh,   -- 105480400 / 3600000
       scaler.convert(1, 'J', 'Btu') AS joule_in_btu,
       scaler.convert(1, 'GJ', 'kWh') AS gj_in_kwh,              -- 10^9 / 3.6e6 = 277.7...
       scaler.convert(1.5, 'kWh', 'kWh') AS same_unit;
-- an exact product keeps numeric multiplication's scale
SELECT scaler.convert(12.5, 'kWh', 'MJ') AS mj, scaler.convert(2, 'ft3', 'm3') AS m3;

-- ==== round trips ====
-- exact where the first leg is: a -> b multiplies exactly, b -> a divides that
-- exact product back
SELECT x, scaler.convert(x, 'kWh', 'MJ') AS mj,
       scaler.convert(scaler.convert(x, 'kWh', 'MJ'), 'MJ', 'kWh') AS back
  FROM unnest('{0, 1, 12.345, 0.001, 987654321.123456789, -42.5}'::numeric[]) AS x;
SELECT x, scaler.convert(x, 'ft3', 'm3') AS m3,
       scaler.convert(scaler.convert(x, 'ft3', 'm3'), 'm3', 'ft3') AS back
  FROM unnest('{1, 1000, 35.3147, 0.5, 123456789.987654321}'::numeric[]) AS x;
-- 20 000 values with 0 to 6 decimals, over pairs whose first leg is exact
SELECT f, t,
       count(*) FILTER (WHERE scaler.convert(scaler.convert(x, f, t), t, f) <> x) AS not_returned,
       count(*) AS tried
  FROM (VALUES ('kWh', 'MJ'), ('ft3', 'm3'), ('US gallon', 'L'), ('lb', 'kg'),
               ('Btu', 'J'), ('therm', 'kJ'), ('short ton', 'kg'), ('ccf', 'm3'),
               ('MWh', 'GJ'), ('imperial gallon', 'L')) AS p(f, t),
       LATERAL (SELECT trim_scale((g * 7919 % 1000003) / 10::numeric ^ (g % 7)) AS x
                  FROM generate_series(1, 2000) g) AS v
 GROUP BY f, t ORDER BY f, t;
-- The other way round the first leg is rounded, so the trip back is close,
-- not exact: J -> Btu -> J.
SELECT scaler.convert(scaler.convert(1, 'J', 'Btu'), 'Btu', 'J') AS joule_back;

-- ==== NULL in, NULL out ====
SELECT scaler.convert(NULL, 'kWh', 'MJ') IS NULL AS a,
       scaler.convert(1, NULL, 'MJ') IS NULL AS b,
       scaler.convert(1, 'kWh', NULL) IS NULL AS c,
       scaler.convert(1, 'kWh', 'MJ', NULL) AS no_vocabulary,
       scaler.normalize_unit(NULL) IS NULL AS d,
       scaler.normalize_unit(NULL, 'us') IS NULL AS e,
       scaler.espi_unit(NULL, 3) IS NULL AS f,
       scaler.convert_fuel(NULL, 'ccf', 'kWh', 'natural_gas') IS NULL AS g,
       scaler.convert_fuel(1, NULL, 'kWh', 'natural_gas') IS NULL AS h,
       scaler.uk_gas_kwh(NULL, 'm3', 39.5) IS NULL AS i,
       scaler.uk_gas_kwh(1, 'm3', NULL) IS NULL AS j,
       scaler.unit_key(NULL) IS NULL AS k,
       (SELECT count(*) FROM scaler.register_consumption(NULL, '{1}')) AS l;
-- NaN and infinity pass through as numeric arithmetic passes them
SELECT scaler.convert('NaN', 'kWh', 'MJ') AS nan, scaler.convert('Infinity', 'kWh', 'MJ') AS inf,
       scaler.convert('-Infinity', 'MJ', 'kWh') AS minus_inf;

-- ==== spellings ====
-- the matching key: case folded; white space and . - _ * ^ dropped; ² ³ as digits
SELECT s, scaler.unit_key(s)
  FROM unnest('{KWH, kwh, kW h, kW·h, kW-h, m³, m^3, M3, "cu. ft.", "Lbs. (pounds)"}'::text[]) AS s;
-- the spellings the issue names
SELECT s, scaler.normalize_unit(s)
  FROM unnest('{KWH, kwh, kW h, "kWh (thousand Watt-hours)", m³, "cm (Cubic meters)",
                "ccf (hundred cubic feet)", therms, "Gallons (US)", "Gallons (UK)"}'::text[]) AS s;
-- every ENERGY STAR Portfolio Manager meter unit listed in provider-apis.md
-- ("M" means million there; "tons" are short tons)
SELECT s, scaler.normalize_unit(s, 'energy_star') AS unit,
       scaler.convert(1, s, CASE u.dimension WHEN 'energy' THEN 'kBtu'
                                             WHEN 'volume' THEN 'm3' ELSE 'kg' END,
                      'energy_star') AS one_in_kbtu_m3_or_kg
  FROM unnest('{"kWh (thousand Watt-hours)", "MWh (million Watt-hours)", "kBtu (thousand Btu)",
                "MBtu (million Btu)", GJ, therms, "ccf (hundred cubic feet)", "cf (cubic feet)",
                "kcf (thousand cubic feet)", "MCF(million cubic feet)", "cm (Cubic meters)",
                "Kcm (Thousand Cubic meters)", "Gallons (US)", "Gallons (UK)", Liters,
                "KGal (thousand gallons) (US)", pounds, "KLbs. (thousand pounds)",
                "MLbs. (million pounds)", "ton hours", "Tonnes (metric)", tons, Kilogram}'::text[])
       WITH ORDINALITY AS a(s, n)
       JOIN scaler.unit u ON u.symbol = scaler.normalize_unit(s, 'energy_star')
 ORDER BY n;
-- UtilityAPI's units (kwh, kw, kva, kvar, kvarh, therms, ccf, mcf, hcf, gallons, m3)
SELECT s, scaler.normalize_unit(s, 'utilityapi')
  FROM unnest('{kwh, kw, kva, kvar, kvarh, therms, ccf, mcf, hcf, gallons, m3}'::text[]) AS s;
-- every alias of the catalog means its unit in its vocabulary, every symbol
-- itself
SELECT count(*) FILTER (WHERE scaler.normalize_unit(alias, vocabulary) <> symbol) AS wrong,
       count(*) AS aliases
  FROM scaler.unit_alias;
SELECT count(*) FILTER (WHERE scaler.normalize_unit(symbol) <> symbol) AS wrong,
       count(*) AS symbols
  FROM scaler.unit;
-- the same spelling in different vocabularies: "M" is a thousand in US gas
-- practice and a million for ENERGY STAR; a US bill's therm is the US therm
-- (units.md), the UK and EU bill in EC therms, Portfolio Manager counts
-- 100 kBtu; "ton" is a short ton, a long ton or a tonne
SELECT s, v, scaler.normalize_unit(s, v)
  FROM (VALUES ('Mcf', 'us'), ('Mcf', 'utilityapi'), ('Mcf', 'energy_star'),
               ('MBtu', 'us'), ('MBtu', 'energy_star'), ('Mlb', 'us'), ('MLbs', 'energy_star'),
               ('therm', NULL), ('therm', 'us'), ('therm', 'uk'), ('therm', 'eu'),
               ('therm', 'energy_star'), ('therms', 'utilityapi'),
               ('ton', 'us'), ('tons', 'energy_star'), ('ton', 'uk'), ('tons', 'eu'), ('t', 'eu'),
               ('gallons', 'us'), ('gallons', 'uk'), ('cm', 'energy_star'),
               ('kcal', 'eu'), ('MMBtu', NULL), ('kWh', 'ENERGY_STAR'), ('kWh', 'common')) AS c(s, v);
SELECT scaler.convert(1, 'therm', 'kBtu') AS us_therm,
       scaler.convert(1, 'therm', 'kBtu', 'energy_star') AS es_therm,
       scaler.convert(1, 'therm', 'kBtu', 'uk') AS ec_therm;
-- Bare "therm" is the US therm only without a vocabulary (units.md): uk,
-- eu and energy_star mean other therms, so a vocabulary that does not
-- define it (espi here, or a user's) must not silently get the US one.
SELECT scaler.convert(1, 'therm', 'kBtu', 'espi');
SELECT s, v, pg_temp.sqlstate(format('SELECT scaler.normalize_unit(%L, %L)', s, v)) AS sqlstate
  FROM (VALUES ('therm', 'espi'), ('thm', 'energy_star'), ('therms', 'espi'),
               ('therm (US)', 'espi'), ('therm_EC', 'espi'), ('therm', NULL)) AS c(s, v);

-- ==== Green Button / ESPI ====
-- [ESPI] uom 72 Wh, 38 W, 169 therm, 42 m3, 119 ft3, 132 Btu, 128 US gallon,
-- 134 litre, 31 J, 61 VA, 63 VAr, 71 VAh, 73 VArh (UnitSymbolKind); a value
-- times 10^powerOfTenMultiplier.  VAh and VArh stay apparent and reactive
-- energy: neither converts to Wh.
SELECT uom, p, e.*
  FROM (VALUES (72, 0), (72, 3), (38, 3), (169, 0), (42, 0), (119, 2), (132, 6),
               (128, 0), (134, -3), (72, -12), (38, 12),
               (31, 0), (31, 6), (61, 3), (63, 3), (71, 0), (73, 3)) AS c(uom, p),
       LATERAL scaler.espi_unit(uom, p) e;
SELECT u.symbol, u.dimension, u.factor
  FROM scaler.espi_unit(31) e1, scaler.espi_unit(61) e2, scaler.espi_unit(63) e3,
       scaler.espi_unit(71) e4, scaler.espi_unit(73) e5, scaler.unit u
 WHERE u.symbol IN (e1.unit, e2.unit, e3.unit, e4.unit, e5.unit) ORDER BY u.symbol;
-- a reading of 2 at uom 71 (VAh), multiplier 3, in kVAh
SELECT scaler.convert(2 * m.multiplier, m.unit, 'kVAh') AS kvah FROM scaler.espi_unit(71, 3) m;
SELECT pg_temp.sqlstate($$SELECT scaler.convert(1, u.unit, 'kWh') FROM scaler.espi_unit(71) u$$) AS vah_to_kwh,
       pg_temp.sqlstate($$SELECT scaler.convert(1, u.unit, 'kWh') FROM scaler.espi_unit(73) u$$) AS varh_to_kwh;
-- an IntervalReading of 12345 at uom 72, multiplier 0, in kWh
SELECT scaler.convert(12345 * m.multiplier, m.unit, 'kWh') AS kwh
  FROM scaler.espi_unit(72, 0) m;
SELECT * FROM scaler.espi_unit(999, 0);
SELECT * FROM scaler.espi_unit(72, 13);

-- ==== errors ====
SELECT scaler.convert(1, 'kwhh', 'MJ');
SELECT scaler.convert(1, 'therme', 'MJ');
SELECT scaler.convert(1, 'furlong', 'MJ');
SELECT scaler.convert(1, 'Mcf', 'm3');
SELECT scaler.convert(1, 'tons', 'kg');
SELECT scaler.convert(1, 'cm', 'm3', 'eu');
SELECT scaler.convert(1, 'kWh', 'MJ', 'energystar');
SELECT scaler.convert(1, 'm3', 'kWh');
SELECT scaler.convert(1, 'kW', 'kWh');
SELECT scaler.convert(1, 'kvarh', 'kWh');
SELECT scaler.normalize_unit('');
SELECT q, pg_temp.sqlstate(q) AS sqlstate
  FROM (VALUES
    ('SELECT scaler.convert(1, ''kwhh'', ''MJ'')'),                -- unknown unit
    ('SELECT scaler.normalize_unit(repeat(''k'', 500))'),          -- unknown, long
    ('SELECT scaler.convert(1, ''cm'', ''m3'', ''eu'')'),          -- not in that vocabulary
    ('SELECT scaler.convert(1, ''kWh'', ''MJ'', ''energystar'')'), -- unknown vocabulary
    ('SELECT scaler.convert(1, ''Mcf'', ''m3'')'),                 -- ambiguous
    ('SELECT scaler.convert(1, ''ton'', ''kg'')'),                 -- ambiguous
    ('SELECT scaler.convert(1, ''gallons'', ''L'')'),              -- ambiguous
    ('SELECT scaler.convert(1, ''m3'', ''kWh'')'),                 -- incompatible
    ('SELECT scaler.convert(1, ''kg'', ''L'')'),                   -- incompatible
    ('SELECT scaler.espi_unit(999, 0)'),
    ('SELECT scaler.espi_unit(72, -13)')
  ) AS c(q);

-- ==== fuel quantities to energy ====
-- [ES] US: natural gas 1.026 kBtu/cf, 102.6 kBtu/ccf, 1,026 kBtu/kcf, 36.303
-- kBtu/m3 (as printed); Canada 103.143 kBtu/ccf, 36.425 kBtu/m3.  One
-- kBtu is 1055055.85262 J [NIST], so 100 ccf = 10 260 kBtu =
-- 10 260 * 1055055.85262 / 3.6e6 kWh = 3006.909179967 kWh exactly.
SELECT scaler.convert_fuel(100, 'ccf', 'kBtu', 'natural_gas') AS ccf_kbtu,
       scaler.convert_fuel(100, 'ccf', 'kWh', 'natural_gas') AS ccf_kwh,
       scaler.convert_fuel(1, 'Mcf', 'kBtu', 'natural_gas', vocabulary => 'us') AS mcf_us,
       scaler.convert_fuel(1, 'MCF(million cubic feet)', 'kBtu', 'Natural Gas') AS mmcf,
       scaler.convert_fuel(1, 'm3', 'kBtu', 'natural_gas') AS m3_us,
       scaler.convert_fuel(1, 'm3', 'kBtu', 'natural_gas', 'CA') AS m3_ca,
       scaler.convert_fuel(1, 'ccf', 'kBtu', 'natural_gas', 'ca') AS ccf_ca;
-- a unit without its own row is converted exactly to the reference row's:
-- 1 L of gas = 0.001 / 0.028316846592 cf * 1.026 kBtu/cf
SELECT scaler.convert_fuel(1, 'L', 'kBtu', 'natural_gas') AS litre_of_gas,
       round(0.001 / 0.028316846592 * 1.026, 20) AS computed,
       scaler.convert_fuel(1, 'dam3', 'kBtu', 'natural_gas', 'CA') AS dam3_ca;
-- per fuel and country, kBtu in one unit [ES]
SELECT fuel, u, c, scaler.convert_fuel(1, u, 'kBtu', fuel, c, vocabulary => 'energy_star') AS kbtu
  FROM (VALUES
    ('fuel_oil_1', 'Gallons (US)', 'US'), ('fuel_oil_1', 'Liters', 'CA'),
    ('Fuel Oil (No. 2)', 'Gallons (US)', 'US'), ('Fuel Oil (No. 2)', 'Gallons (US)', 'CA'),
    ('fuel_oil_2', 'Gallons (UK)', 'US'), ('fuel_oil_4', 'Liters', 'US'),
    ('Fuel Oil (No. 5 and No. 6)', 'Gallons (US)', 'US'), ('fuel_oil_5_6', 'Gallons (US)', 'CA'),
    ('Diesel', 'Gallons (US)', 'US'), ('diesel', 'Liters', 'CA'),
    ('Kerosene', 'Gallons (US)', 'US'), ('kerosene', 'Gallons (US)', 'CA'),
    ('Propane', 'Gallons (US)', 'US'), ('propane', 'Gallons (US)', 'CA'),
    ('propane', 'cf (cubic feet)', 'US'), ('propane', 'kcf (thousand cubic feet)', 'CA'),
    ('District Steam', 'pounds', 'US'), ('district_steam', 'KLbs. (thousand pounds)', 'CA'),
    ('district_steam', 'MLbs. (million pounds)', 'US'), ('district_steam', 'Kilogram', 'US'),
    ('Coal (anthracite)', 'tons', 'US'), ('coal_anthracite', 'Tonnes (metric)', 'US'),
    ('coal_anthracite', 'tons', 'CA'), ('Coal (bituminous)', 'tons', 'US'),
    ('coal_bituminous', 'pounds', 'CA'), ('Coke', 'tons', 'US'), ('coke', 'MLbs', 'CA'),
    ('Wood', 'tons', 'US'), ('wood', 'Tonnes (metric)', 'CA')
  ) AS c(fuel, u, c);
-- energy back to a quantity of fuel; liquid to gaseous propane of the same
-- energy goes through energy, one form at a time: 1 US gallon of liquid =
-- 92 kBtu = 92 / 2.516 cf of gas
SELECT scaler.convert_fuel(25090, 'kBtu', 'short_ton', 'coal_anthracite') AS tons,
       scaler.convert_fuel(1, 'MMBtu', 'ccf', 'natural_gas') AS ccf,
       scaler.convert_fuel(scaler.convert_fuel(1, 'gal_US', 'kBtu', 'propane_liquid'),
                           'kBtu', 'ft3', 'propane_gas') AS gas_cf,
       round(92 / 2.516, 16) AS computed,
       scaler.convert_fuel(1, 'kWh', 'MJ', 'electricity') AS energy_to_energy,
       scaler.convert_fuel(1, 'kWh', 'MJ') AS without_fuel;
-- Two units of one dimension convert exactly, as scaler.convert does, never
-- through heat contents (36.303 / 1.026 kBtu would make 1 m3 35.38 cf):
-- 1 m3 = 1 / 0.028316846592 ft3; 1 US gallon = 231 / 1728 ft3.
SELECT scaler.convert_fuel(1, 'm3', 'ft3', 'natural_gas') AS m3_in_cf,
       scaler.convert(1, 'm3', 'ft3') AS unit_ratio,
       round(1 / 0.028316846592::numeric(40, 30), 30) AS to_30_places,
       scaler.convert_fuel(1, 'm3', 'ft3', 'natural_gas') = scaler.convert(1, 'm3', 'ft3') AS same,
       scaler.convert_fuel(1, 'gal_US', 'ft3', 'propane') AS gallon_in_cf,
       round(231 / 1728.0, 20) AS computed,
       scaler.convert_fuel(3, 'short_ton', 'kg', 'coal_anthracite', 'CA') AS tons_in_kg,
       scaler.convert_fuel(1, 'kcm', 'm3', calorific_value => 39.5,
                           calorific_value_unit => 'MJ/m3') AS with_cv;

-- ==== propane: liquid or gas, never a guess ====
-- [ES] prints propane per US gallon and litre (liquid) and per cf, ccf, kcf
-- (gas); a liquid gallon holds 92 kBtu, a gaseous cf 2.516.  "propane"
-- keeps exactly those units; any other volume must say which form.
SELECT scaler.convert_fuel(1, 'm3', 'kBtu', 'propane');
SELECT scaler.convert_fuel(1, 'bbl', 'kBtu', 'Propane', 'CA');
SELECT u, pg_temp.sqlstate(format('SELECT scaler.convert_fuel(1, %L, ''kBtu'', ''propane'')', u)) AS sqlstate
  FROM unnest('{m3, kcm, bbl, MMcf, kgal_US, yd3}'::text[]) AS u;
-- the forms: every unit converts through the form's reference row.  1 m3
-- of gas = 2.516 / 0.028316846592 kBtu; 1 m3 of liquid =
-- 92 / 0.003785411784 kBtu.
SELECT scaler.convert_fuel(1, 'm3', 'kBtu', 'propane_gas') AS gas_m3,
       round(2.516 / 0.028316846592, 16) AS computed_gas,
       scaler.convert_fuel(1, 'm3', 'kBtu', 'propane_liquid') AS liquid_m3,
       round(92 / 0.003785411784::numeric(40, 30), 16) AS computed_liquid,
       scaler.convert_fuel(1, 'm3', 'kBtu', 'Propane (gas)', 'CA') AS ca_gas_m3,
       scaler.convert_fuel(1, 'bbl', 'kBtu', 'liquid propane', 'CA') AS ca_liquid_bbl,
       round(90.809 * 42, 3) AS computed_bbl;
-- Portfolio Manager's own units keep its figures under all three names
SELECT f, u, scaler.convert_fuel(1, u, 'kBtu', f) AS kbtu
  FROM (VALUES ('propane', 'gal_US'), ('propane_liquid', 'gal_US'), ('propane', 'L'),
               ('propane_liquid', 'L'), ('propane', 'ccf'), ('propane_gas', 'ccf')) AS c(f, u);
-- a form in the other form's unit is that form, measured so: explicit
SELECT scaler.convert_fuel(1, 'ft3', 'kBtu', 'propane_liquid') AS liquid_cf,
       round(92 * 0.028316846592 / 0.003785411784, 16) AS computed;
-- a calorific value overrides the defaults: 100 m3 at 39.5 MJ/m3 = 3950 MJ
-- = 1097.2... kWh; 1,037 Btu/cf gives 103.7 kBtu per ccf
SELECT scaler.convert_fuel(100, 'm3', 'MJ', calorific_value => 39.5,
                           calorific_value_unit => 'MJ/m3') AS mj,
       scaler.convert_fuel(100, 'm3', 'kWh', 'natural_gas', calorific_value => 39.5,
                           calorific_value_unit => 'MJ/m3') AS kwh,
       scaler.convert_fuel(1, 'ccf', 'kBtu', calorific_value => 1037,
                           calorific_value_unit => 'Btu/cf') AS kbtu,
       scaler.convert_fuel(3950, 'MJ', 'm3', calorific_value => 39.5,
                           calorific_value_unit => 'MJ/m³') AS m3_back,
       scaler.convert_fuel(2, 'tonne', 'GJ', calorific_value => 25.8,
                           calorific_value_unit => 'GJ/t', vocabulary => 'eu') AS coal_gj;
-- [UK] kWh = m3 x 1.02264 x CV (MJ/m3) / 3.6; imperial meters read hundreds
-- of cubic feet, which bills turn into m3 at 2.83 each (exactly
-- 2.8316846592).  100 m3 at 39.5 MJ/m3:
-- 100 * 1.02264 * 39.5 / 3.6 = 4039.428 / 3.6 = 1122.0633...;
-- 10 hcf: 28.3 * 1.02264 * 39.5 / 3.6 = 1143.158124 / 3.6 = 317.5439233...
SELECT scaler.uk_gas_kwh(100, 'm3', 39.5) AS kwh,
       scaler.uk_gas_kwh(10, 'hcf', 39.5) AS imperial_kwh,
       round(10 * 2.83 * 1.02264 * 39.5 / 3.6, 16) AS computed,
       scaler.uk_gas_kwh(100, 'm3', 39.5, 1) AS uncorrected;
-- the exact factor when asked; cubic feet and thousands of them scale the
-- bills' factor (1,000 ft3 = 10 hcf = 28.3 m3); metric units are exact
SELECT scaler.uk_gas_kwh(10, 'hcf', 39.5, imperial_factor => 2.8316846592) AS exact_kwh,
       round(10 * 2.8316846592 * 1.02264 * 39.5 / 3.6, 16) AS computed,
       scaler.uk_gas_kwh(1000, 'ft3', 39.5) AS cf_kwh,
       scaler.uk_gas_kwh(1, 'kcf', 39.5) AS kcf_kwh,
       scaler.uk_gas_kwh(28.3, 'm3', 39.5) AS same_in_m3,
       scaler.uk_gas_kwh(28300, 'L', 39.5) AS same_in_litres,
       scaler.uk_gas_kwh(10, 'hcf', 39.5, 1.02264, 2.83) AS explicit;
SELECT scaler.uk_gas_kwh(10, 'hcf', 39.5, imperial_factor => 0);
SELECT scaler.convert_fuel(1, 'm3', 'kWh');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', 'natural gaz');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', 'natural_gas', 'GB');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', 'wood');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', calorific_value => 39.5);
SELECT scaler.convert_fuel(1, 'm3', 'kWh', calorific_value => 39.5, calorific_value_unit => 'MJ');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', calorific_value => 39.5, calorific_value_unit => 'm3/MJ');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', calorific_value => 39.5, calorific_value_unit => 'MJ/kg');
SELECT scaler.uk_gas_kwh(1, 'kWh', 39.5);
SELECT q, pg_temp.sqlstate(q) AS sqlstate
  FROM (VALUES
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', ''natural gaz'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', ''natural_gas'', ''USA'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', ''natural_gas'', ''GB'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value => 0, calorific_value_unit => ''MJ/m3'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value => ''NaN'', calorific_value_unit => ''MJ/m3'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value => 39.5, calorific_value_unit => ''MJ/kg'')'),
    ('SELECT scaler.uk_gas_kwh(1, ''kWh'', 39.5)'),
    ('SELECT scaler.uk_gas_kwh(1, ''m3'', -1)'),
    ('SELECT scaler.uk_gas_kwh(1, ''hcf'', 39.5, 1.02264, -2.83)'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', ''natural_gas'', calorific_value_unit => ''MJ/m3'')'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value => 1e-1200, calorific_value_unit => ''MJ/m3'')')
  ) AS c(q);
-- A calorific_value_unit without a calorific_value is refused, not ignored
-- (it would silently fall back to the fuel's defaults).
SELECT scaler.convert_fuel(1, 'm3', 'kWh', 'natural_gas', calorific_value_unit => 'MJ/m3');
SELECT scaler.convert_fuel(1, 'm3', 'kWh', calorific_value => NULL, calorific_value_unit => 'MJ/m3');
-- A nonzero result that would round to 0 is an error, not 0: 1 m3 at
-- 1e-1200 MJ/m3 is 2.7e-1201 kWh, past numeric division's 1,000 places.
-- Small but representable results stay exact, and 0 stays 0.
SELECT scaler.convert_fuel(1, 'm3', 'kWh', calorific_value => 1e-1200, calorific_value_unit => 'MJ/m3');
SELECT scaler.convert_fuel(36, 'm3', 'kWh', calorific_value => 1e-990,
                           calorific_value_unit => 'MJ/m3') = 1e-989 AS tiny_exact,
       scaler.convert_fuel(0, 'm3', 'kWh', calorific_value => 1e-1200,
                           calorific_value_unit => 'MJ/m3') AS zero,
       scaler.convert(1e-999, 'kWh', 'Wh') = 1e-996 AS tiny_product;
SELECT scaler.convert(1e-999, 'J', 'GWh');

-- ==== users extend the catalog; changes apply at once ====
SELECT scaler.convert(1, 'Mcal', 'kJ');
INSERT INTO scaler.unit (symbol, dimension, factor, description)
  VALUES ('Mcal_IT', 'energy', 4186800, 'megacalorie (IT)');
INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('Mcal', 'Mcal_IT');
SELECT scaler.convert(1, 'Mcal', 'kJ') AS mcal_in_kj;
-- a user's alias overrides the built-in one with the same key and vocabulary
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('THERM', 'common', 'therm_EC');
SELECT scaler.convert(1, 'therm', 'J') AS now_ec;
DELETE FROM scaler.unit_alias WHERE alias = 'THERM' AND NOT builtin;
SELECT scaler.convert(1, 'therm', 'J') AS back_to_us;
-- a rolled-back change is gone again
BEGIN;
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('tonnage', 'us', 'short_ton');
SELECT scaler.convert(1, 'tonnage', 'lb', 'us') AS in_transaction;
ROLLBACK;
SELECT pg_temp.sqlstate($$SELECT scaler.convert(1, 'tonnage', 'lb', 'us')$$) AS after_rollback;
BEGIN;
SAVEPOINT before_alias;
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('tonnage', 'us', 'short_ton');
SELECT scaler.convert(1, 'tonnage', 'lb', 'us') AS in_savepoint;
ROLLBACK TO SAVEPOINT before_alias;
SELECT pg_temp.sqlstate($$SELECT scaler.convert(1, 'tonnage', 'lb', 'us')$$) AS after_rollback_to_savepoint;
COMMIT;
-- a call site keeps its resolved ratios, and drops them when the catalog
-- changes: PL/pgSQL evaluates this assignment with one expression state for
-- the whole loop
CREATE TEMP TABLE seen (i int, mcal_in_kj numeric);
DO $$
DECLARE
  r numeric;
BEGIN
  FOR i IN 1..3 LOOP
    r := scaler.convert(1, 'Mcal', 'kJ');
    INSERT INTO seen VALUES (i, r);
    UPDATE scaler.unit SET factor = factor * 10 WHERE symbol = 'Mcal_IT';
  END LOOP;
  UPDATE scaler.unit SET factor = 4186800 WHERE symbol = 'Mcal_IT';
END
$$;
SELECT * FROM seen ORDER BY i;
-- another session's committed change reaches this one at its next transaction
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_exec(format('dbname=%s port=%s host=%s', current_database(),
                          current_setting('port'),
                          split_part(current_setting('unix_socket_directories'), ',', 1)),
                   $$INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('kilocal', 'kcal_IT')$$);
SELECT scaler.convert(1, 'kilocal', 'J') AS from_other_session;
-- a user's heat content takes precedence over every built-in one of the
-- fuel and country: EIA's 2023 US average, 1,037 Btu/cf
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit,
                                      reference, source)
  VALUES ('natural_gas', 'US', 'ft3', 1037, 'Btu', true, 'EIA, 2023 average');
SELECT scaler.convert_fuel(1, 'ccf', 'kBtu', 'natural_gas') AS ccf_user,
       scaler.convert_fuel(1, 'ccf', 'kBtu', 'natural_gas', 'CA') AS ccf_ca_builtin;
INSERT INTO scaler.fuel (fuel, description) VALUES ('biogas', 'biogas');
INSERT INTO scaler.fuel_alias (alias, fuel) VALUES ('digester gas', 'biogas');
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit,
                                      reference)
  VALUES ('biogas', 'GB', 'm3', 21.5, 'MJ', true);
SELECT scaler.convert_fuel(10, 'm3', 'MJ', 'Digester Gas', 'GB') AS biogas_mj;
-- built-in rows are read-only; checks on users' rows
UPDATE scaler.fuel_heat_content SET heat_content = 1 WHERE builtin;
DELETE FROM scaler.unit WHERE symbol = 'kWh';
INSERT INTO scaler.unit_alias (alias, symbol, builtin) VALUES ('kwatth', 'kWh', true);
TRUNCATE scaler.unit_alias;
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit)
  VALUES ('biogas', 'GB', 'kWh', 1, 'MJ');
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit)
  VALUES ('biogas', 'GB', 'kg', 1, 'kg');
INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('Mcal', 'kWh');
INSERT INTO scaler.unit_alias (alias, symbol) VALUES (' . ', 'kWh');
INSERT INTO scaler.unit (symbol, dimension, factor, description) VALUES ('k_Wh', 'energy', 1, 'x');
INSERT INTO scaler.unit (symbol, dimension, factor, description) VALUES ('bad', 'energy', 'NaN', 'x');
-- in a parallel worker, which reads the catalog itself
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT scaler.convert(1, 'Mcal', 'kJ');
SELECT scaler.convert(1, 'Mcal', 'kJ') AS in_worker,
       scaler.convert_fuel(1, 'ccf', 'kBtu', 'natural_gas') AS user_heat_content;
RESET force_parallel_mode;
-- users' rows are all that pg_dump saves
SELECT 'unit' AS t, symbol AS row FROM scaler.unit WHERE NOT builtin
UNION ALL SELECT 'unit_alias', alias FROM scaler.unit_alias WHERE NOT builtin
UNION ALL SELECT 'fuel', fuel FROM scaler.fuel WHERE NOT builtin
UNION ALL SELECT 'fuel_heat_content', fuel || '/' || country FROM scaler.fuel_heat_content WHERE NOT builtin
ORDER BY 1, 2;
DELETE FROM scaler.fuel_heat_content WHERE NOT builtin;
DELETE FROM scaler.fuel WHERE NOT builtin;
DELETE FROM scaler.unit WHERE NOT builtin;
DELETE FROM scaler.unit_alias WHERE NOT builtin;
SELECT scaler.convert_fuel(1, 'ccf', 'kBtu', 'natural_gas') AS builtin_again;

-- ==== symbols win over aliases ====
-- An alias with the key of another unit's symbol would change that symbol
-- for everyone ("kWh" meaning MWh); it is refused, in any vocabulary.
INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('kWh', 'MWh');
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('KW-H', 'us', 'MWh');
-- an alias may spell its own unit's symbol, but not be pointed elsewhere
INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('kWh hr', 'kWh');
UPDATE scaler.unit_alias SET alias = 'kW h' WHERE alias = 'kWh hr';
UPDATE scaler.unit_alias SET symbol = 'MWh' WHERE alias = 'kW h';
DELETE FROM scaler.unit_alias WHERE alias = 'kW h';
SELECT scaler.normalize_unit('kWh') AS kwh, scaler.normalize_unit('KWH', 'us') AS kwh_us;
-- a unit may not take the key of another unit's alias either ("cm" is
-- cubic metres for ENERGY STAR)
INSERT INTO scaler.unit (symbol, dimension, factor, description)
  VALUES ('cm', 'volume', 0.000001, 'cubic centimetre');
-- the built-in aliases pass the same check
SELECT count(*) AS aliases_on_other_symbols
  FROM scaler.unit_alias a
  JOIN scaler.unit u ON scaler.unit_key(u.symbol) = scaler.unit_key(a.alias) AND u.symbol <> a.symbol;
-- The lookup does not rely on the trigger: a row that got around it (here
-- a superuser disabled it) still loses to the symbol, in any case.
ALTER TABLE scaler.unit_alias DISABLE TRIGGER units_key_check;
INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('kWh', 'MWh');
ALTER TABLE scaler.unit_alias ENABLE ALWAYS TRIGGER units_key_check;
SELECT s, scaler.normalize_unit(s), scaler.convert(1, s, 'MJ') AS mj
  FROM unnest('{kWh, KWH, kwh, kW h}'::text[]) AS s;
DELETE FROM scaler.unit_alias WHERE alias = 'kWh' AND NOT builtin;

-- ==== case: milli is not mega ====
-- Symbols match in exact case first.  Ignoring case, a symbol whose m or M
-- is an SI prefix (MWh, MW, MJ, Mvar: the rest is a unit too) is not
-- guessed: mWh would be a milliwatt-hour, 10^9 times less.
SELECT scaler.normalize_unit('mWh');
SELECT scaler.convert(1, 'mw', 'kW');
SELECT s, pg_temp.sqlstate(format('SELECT scaler.normalize_unit(%L)', s)) AS sqlstate
  FROM unnest('{mWh, mwh, MWH, mw, mj, mva, mvar, mgal_us, M.J, m-J}'::text[]) AS s;
-- where case cannot make milli of mega, it is still folded
SELECT s, scaler.normalize_unit(s)
  FROM unnest('{MWh, MW, MJ, KWH, kwh, M3, MMBTU, mmcf, MMLBS, gj, KVARH, THERM_US}'::text[]) AS s;
-- an alias says what a source means by its spelling
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('mwh', 'utilityapi', 'MWh');
SELECT scaler.normalize_unit('MWH', 'utilityapi') AS utilityapi,
       pg_temp.sqlstate($$SELECT scaler.normalize_unit('MWH', 'us')$$) AS us;
DELETE FROM scaler.unit_alias WHERE alias = 'mwh' AND NOT builtin;
-- Symbols are unique in exact case, so milliwatts can sit beside
-- megawatts; ignoring case "mw" is then both, an error.  Spellings that
-- differ only in . - _ * ^ or spaces are still one symbol.
INSERT INTO scaler.unit (symbol, dimension, factor, description)
  VALUES ('mW', 'power', 0.001, 'milliwatt');
SELECT scaler.normalize_unit('mW') AS milli, scaler.normalize_unit('MW') AS mega,
       scaler.convert(1, 'MW', 'mW') AS mw_in_mw, scaler.convert(5, 'mW', 'W') AS w;
SELECT scaler.normalize_unit('mw');
INSERT INTO scaler.unit (symbol, dimension, factor, description)
  VALUES ('m_W', 'power', 0.001, 'milliwatt again');
-- now no alias may spell "mw": it would pick one of the two
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('mw', 'utilityapi', 'MW');
DELETE FROM scaler.unit WHERE symbol = 'mW';

-- ==== fuels: one key space ====
-- A user's alias overrides the built-in one with the same key ("gas" is
-- natural gas until then); a name wins over any alias; nothing else may
-- share a key.  Rows of one kind in any physical order give one answer.
INSERT INTO scaler.fuel (fuel, description) VALUES ('lng', 'liquefied natural gas, regasified');
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit,
                                      reference)
  VALUES ('lng', 'US', 'm3', 38.2, 'MJ', true);
SELECT scaler.convert_fuel(1, 'm3', 'MJ', 'gas') AS builtin_gas;
INSERT INTO scaler.fuel_alias (alias, fuel) VALUES ('GAS', 'lng');
SELECT scaler.convert_fuel(1, 'm3', 'MJ', 'gas') AS user_gas,
       scaler.convert_fuel(1, 'm3', 'MJ', 'natural_gas') = scaler.convert_fuel(1, 'm3', 'MJ', 'natural gas') AS name_still_works;
INSERT INTO scaler.fuel (fuel, description) VALUES ('naturalgas', 'natural gas, again');
INSERT INTO scaler.fuel_alias (alias, fuel) VALUES ('Natural Gas', 'lng');
INSERT INTO scaler.fuel_alias (alias, fuel) VALUES ('g.a.s', 'natural_gas');
INSERT INTO scaler.fuel (fuel, description) VALUES ('heating_oil', 'heating oil');
SELECT q, pg_temp.sqlstate(q) AS sqlstate
  FROM (VALUES
    ('INSERT INTO scaler.fuel (fuel, description) VALUES (''naturalgas'', ''x'')'),
    ('INSERT INTO scaler.fuel (fuel, description) VALUES (''gas'', ''x'')'),
    ('INSERT INTO scaler.fuel_alias (alias, fuel) VALUES (''Natural-Gas'', ''lng'')'),
    ('INSERT INTO scaler.fuel_alias (alias, fuel) VALUES (''natural gas'', ''natural_gas'')'),
    ('UPDATE scaler.fuel SET fuel = ''diesel_'' WHERE fuel = ''lng''')
  ) AS c(q);
DELETE FROM scaler.fuel_alias WHERE NOT builtin;
SELECT scaler.convert_fuel(1, 'm3', 'MJ', 'gas') = scaler.convert_fuel(1, 'm3', 'MJ', 'natural_gas') AS gas_is_natural_gas_again;

-- ==== one reference row per fuel, country and dimension ====
-- Two would leave the choice to table order.  Users' rows and built-in
-- rows each may have one (a user's row overrides the built-in defaults).
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit,
                                      reference)
  VALUES ('lng', 'US', 'ft3', 1.08, 'MJ', true);
INSERT INTO scaler.fuel_heat_content (fuel, country, per_unit, heat_content, heat_content_unit,
                                      reference)
  VALUES ('lng', 'US', 'ft3', 1.08, 'MJ', false), ('lng', 'US', 'kg', 53.6, 'MJ', true),
         ('lng', 'CA', 'ft3', 1.08, 'MJ', true);
UPDATE scaler.fuel_heat_content SET reference = true WHERE fuel = 'lng' AND per_unit = 'ft3' AND country = 'US';
-- moving the reference is two steps
UPDATE scaler.fuel_heat_content SET reference = false WHERE fuel = 'lng' AND per_unit = 'm3';
UPDATE scaler.fuel_heat_content SET reference = true WHERE fuel = 'lng' AND per_unit = 'ft3' AND country = 'US';
SELECT scaler.convert_fuel(1, 'L', 'MJ', 'lng') AS litre_via_ft3,
       round(0.001 / 0.028316846592::numeric(40, 30) * 1.08, 20) AS computed,
       scaler.convert_fuel(1, 'm3', 'MJ', 'lng') AS own_m3_row,
       scaler.convert_fuel(1, 'lb', 'MJ', 'lng') AS lb_via_kg;
-- the lookup does not rely on the trigger: two references are an error
ALTER TABLE scaler.fuel_heat_content DISABLE TRIGGER fuel_heat_content_check;
UPDATE scaler.fuel_heat_content SET reference = true WHERE fuel = 'lng' AND per_unit = 'm3';
ALTER TABLE scaler.fuel_heat_content ENABLE ALWAYS TRIGGER fuel_heat_content_check;
SELECT scaler.convert_fuel(1, 'L', 'MJ', 'lng');
DELETE FROM scaler.fuel_heat_content WHERE fuel = 'lng';
DELETE FROM scaler.fuel WHERE fuel = 'lng';

-- ==== many units in one column ====
-- Every call site shares the catalog cache's resolved ratios, so a column
-- of many units costs no more than one of a few (test/bench/bench_units.sh
-- times 16); here the answers, against the factors.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE scaler.convert(g, u.symbol, 'J') = g * u.factor) AS exact
  FROM scaler.unit u, generate_series(1, 40) g
 WHERE u.dimension = 'energy';
-- More distinct spellings than the cache keeps (16,384): it starts over,
-- and every answer is still right.
SELECT count(*) AS spellings,
       count(*) FILTER (WHERE scaler.convert(2, s, 'MJ') = 7.2) AS right
  FROM (SELECT 'k' || repeat(' ', a) || 'Wh' || repeat(' ', b) AS s
          FROM generate_series(0, 130) a, generate_series(0, 130) b) AS v;

-- ==== errors echo at most 64 characters of an input ====
-- A 1,000,000-character unit makes an error of a few hundred characters.
SELECT scaler.convert(1, repeat('x', 1000000), 'kWh');
SELECT q, pg_temp.error_length(q) < 1000 AS short
  FROM (VALUES
    ('SELECT scaler.convert(1, repeat(''x'', 1000000), ''kWh'')'),
    ('SELECT scaler.convert(1, ''kWh'' || repeat('' '', 1000000) || ''x'', ''MJ'')'),
    ('SELECT scaler.normalize_unit(repeat(''m'', 1000000))'),
    ('SELECT scaler.convert(1, ''kWh'', ''MJ'', repeat(''v'', 1000000))'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', repeat(''f'', 1000000))'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', ''natural_gas'', repeat(''c'', 1000000))'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value => 39.5, calorific_value_unit => repeat(''u'', 1000000))'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value_unit => repeat(''u'', 1000000))'),
    ('SELECT scaler.convert_fuel(1, ''m3'', ''kWh'', calorific_value => -1e100000, calorific_value_unit => ''MJ/m3'')'),
    ('SELECT scaler.uk_gas_kwh(1, repeat(''u'', 1000000), 39.5)')
  ) AS c(q);

-- ==== triggers fire in replicas too ====
-- ENABLE ALWAYS: a logical replication apply worker (which runs as
-- session_replication_role = replica, and fires row triggers only) still
-- protects built-in rows, checks keys and refreshes every cache.
SELECT c.relname, t.tgname, t.tgenabled
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'scaler'::regnamespace AND NOT t.tgisinternal
   AND c.relname !~ 'mapping'
 ORDER BY 1, 2;
SET session_replication_role = replica;
UPDATE scaler.unit SET factor = 1 WHERE symbol = 'kWh';
INSERT INTO scaler.unit_alias (alias, symbol) VALUES ('kwh', 'MWh');
INSERT INTO scaler.unit_alias (alias, vocabulary, symbol) VALUES ('kilowatt hr', 'us', 'kWh');
SELECT scaler.normalize_unit('kilowatt hr', 'us') AS seen_at_once;
DELETE FROM scaler.unit_alias WHERE NOT builtin;
SELECT pg_temp.sqlstate($$SELECT scaler.normalize_unit('kilowatt hr', 'us')$$) AS gone_again;
RESET session_replication_role;

-- ==== register readings to consumption ====
-- rising readings, a rollover of a five-dial register (99 990 -> 120 at
-- 100 000), a negative delta (a correction), a reset (meter exchange), and
-- a reading sent twice; input order does not matter
SELECT r.period_start::date, r.period_end::date, r.reading_start, r.reading_end,
       r.consumption, r.status
  FROM scaler.register_consumption(
         '{2024-03-01, 2024-01-01, 2024-02-01, 2024-04-01, 2024-05-01, 2024-06-01, 2024-06-01, 2024-07-01}',
         '{120, 99900, 99990, 100, 4000, 12, 12, 75.5}',
         rollover_at => 100000) AS r;
-- without a declared maximum a drop is never taken for a rollover
SELECT period_end::date, consumption, status
  FROM scaler.register_consumption('{2024-01-01, 2024-02-01}', '{99990, 120}');
-- two different readings at one time conflict (the later one given goes
-- on); NULL and NaN readings, and readings without a time, are skipped, so
-- the period spans the gap
SELECT period_start::date, period_end::date, reading_start, reading_end, consumption, status
  FROM scaler.register_consumption('{2024-01-01, 2024-01-02, 2024-01-02, 2024-01-03, 2024-01-04, NULL, 2024-01-05}',
                                   '{10, 11, 13, NULL, NaN, 40, 50}');
SELECT count(*) FROM scaler.register_consumption('{}', '{}');
SELECT count(*) FROM scaler.register_consumption('{2024-01-01}', '{5}');
-- per meter, from a table of reads: UK imperial gas meters with four dials
-- (hundreds of cubic feet), billed at 39.2 MJ/m3 [UK]:
-- 15 hcf = 15 * 2.83 * 1.02264 * 39.2 / 3.6 kWh = 472.698296 (bills' 2.83 m3
-- per hcf)
CREATE TEMP TABLE reads (meter text, read_at timestamptz, reading numeric);
INSERT INTO reads VALUES
  ('gas-1', '2024-01-01', 9980), ('gas-1', '2024-02-01', 9995), ('gas-1', '2024-03-01', 7),
  ('gas-2', '2024-01-01', 120), ('gas-2', '2024-02-01', 180);
SELECT m.meter, r.period_start::date, r.period_end::date, r.consumption, r.status,
       scaler.uk_gas_kwh(r.consumption, 'hcf', 39.2) AS kwh
  FROM (SELECT meter, array_agg(read_at ORDER BY read_at) AS t,
               array_agg(reading ORDER BY read_at) AS v
          FROM reads GROUP BY meter) m,
       LATERAL scaler.register_consumption(m.t, m.v, rollover_at => 10000) r
 ORDER BY 1, 2;
SELECT * FROM scaler.register_consumption('{2024-01-01}', '{1, 2}');
SELECT * FROM scaler.register_consumption('{{2024-01-01}}', '{{1}}');
SELECT * FROM scaler.register_consumption('{2024-01-01, 2024-01-02}', '{1, 2}', rollover_at => 0);
SELECT q, pg_temp.sqlstate(q) AS sqlstate
  FROM (VALUES
    ('SELECT scaler.register_consumption(''{2024-01-01}'', ''{1, 2}'')'),
    ('SELECT scaler.register_consumption(''{{2024-01-01}}'', ''{{1}}'')'),
    ('SELECT scaler.register_consumption(''{2024-01-01}'', ''{1}'', -5)')
  ) AS c(q);
