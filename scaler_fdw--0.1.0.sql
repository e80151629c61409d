/* scaler_fdw--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION scaler_fdw" to load this file. \quit

CREATE FUNCTION @extschema@.fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'scaler_fdw_handler'
LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'scaler_fdw_validator'
LANGUAGE C STRICT;

-- USAGE on the wrapper is not granted to PUBLIC: a superuser grants it to
-- the roles that may create servers.
CREATE FOREIGN DATA WRAPPER scaler_fdw
  HANDLER @extschema@.fdw_handler
  VALIDATOR @extschema@.fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER scaler_fdw IS
  'Provider REST APIs (assets, meters, consumption) as foreign tables';

-- ===== provider profiles =====

-- The built-in provider profiles (profiles/*.json in the source tree).
CREATE FUNCTION @extschema@.builtin_profiles(OUT name text, OUT document jsonb)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'scaler_builtin_profiles'
LANGUAGE C STRICT STABLE;

CREATE VIEW @extschema@.provider_profiles AS
  SELECT name, document->>'description' AS description,
         ARRAY(SELECT jsonb_object_keys(document->'tables')) AS tables,
         document
    FROM @extschema@.builtin_profiles();
COMMENT ON VIEW @extschema@.provider_profiles IS
  'Built-in provider profiles: use one with CREATE SERVER ... OPTIONS (provider ''name'')';

-- The canonical tables: the contract that mapping and sync rely on.
-- IMPORT FOREIGN SCHEMA creates these columns for every profile table of
-- the same name, and the event trigger below sets their comments.
CREATE TABLE @extschema@.canonical_columns (
  table_name  text NOT NULL,
  position    int NOT NULL,
  column_name text NOT NULL,
  data_type   text NOT NULL,
  json_path   text,
  description text NOT NULL,
  PRIMARY KEY (table_name, column_name),
  UNIQUE (table_name, position)
);
COMMENT ON TABLE @extschema@.canonical_columns IS
  'Columns of the canonical foreign tables assets, meters and consumption';

INSERT INTO @extschema@.canonical_columns VALUES
  ('assets', 1, 'asset_id', 'text', NULL, 'The provider''s identifier of the asset (building, site, property)'),
  ('assets', 2, 'name', 'text', NULL, 'Name of the asset'),
  ('assets', 3, 'address', 'text', NULL, 'Street address'),
  ('assets', 4, 'city', 'text', NULL, 'City or town'),
  ('assets', 5, 'postcode', 'text', NULL, 'Postal code'),
  ('assets', 6, 'country', 'text', NULL, 'Country, as the provider writes it (ISO 3166 alpha-2 where it can)'),
  ('assets', 7, 'floor_area', 'numeric', NULL, 'Gross floor area, in floor_area_unit'),
  ('assets', 8, 'floor_area_unit', 'text', NULL, 'Unit of floor_area (m2, ft2)'),
  ('assets', 9, 'raw', 'jsonb', '$', 'The provider''s whole record, as received'),
  ('meters', 1, 'meter_id', 'text', NULL, 'The provider''s identifier of the meter (unique within the provider)'),
  ('meters', 2, 'asset_id', 'text', NULL, 'The asset the meter belongs to'),
  ('meters', 3, 'name', 'text', NULL, 'Name or description of the meter'),
  ('meters', 4, 'serial_number', 'text', NULL, 'Serial number of the physical meter'),
  ('meters', 5, 'resource', 'text', NULL, 'electricity, gas, water, heat, cooling, steam, oil, waste or other'),
  ('meters', 6, 'unit', 'text', NULL, 'Unit of the meter''s readings, as the provider names it'),
  ('meters', 7, 'is_active', 'boolean', NULL, 'Whether the provider reports the meter as active'),
  ('meters', 8, 'raw', 'jsonb', '$', 'The provider''s whole record, as received'),
  ('consumption', 1, 'meter_id', 'text', NULL, 'The meter the reading belongs to'),
  ('consumption', 2, 'period_start', 'timestamptz', NULL, 'Start of the period (inclusive)'),
  ('consumption', 3, 'period_end', 'timestamptz', NULL, 'End of the period (exclusive)'),
  ('consumption', 4, 'value', 'numeric', NULL, 'Consumption over the period (or the register reading), in unit'),
  ('consumption', 5, 'unit', 'text', NULL, 'Unit of value, as the provider names it'),
  ('consumption', 6, 'reading_type', 'text', NULL, 'interval, bill or register'),
  ('consumption', 7, 'is_estimated', 'boolean', NULL, 'Whether the provider marks the value as estimated'),
  ('consumption', 8, 'raw', 'jsonb', '$', 'The provider''s whole record, as received');

-- IMPORT FOREIGN SCHEMA may only create tables; this sets their comments.
CREATE FUNCTION @extschema@.comment_imported_tables()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  cmd record;
  col record;
BEGIN
  FOR cmd IN
    SELECT c.objid::regclass AS rel, ft.ftoptions
      FROM pg_event_trigger_ddl_commands() c
      JOIN pg_foreign_table ft ON ft.ftrelid = c.objid
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
      JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     WHERE c.object_type = 'foreign table' AND w.fdwname = 'scaler_fdw'
  LOOP
    FOR col IN
      SELECT cc.column_name, cc.description
        FROM @extschema@.canonical_columns cc
        JOIN pg_attribute a ON a.attrelid = cmd.rel AND a.attname = cc.column_name
       WHERE cc.table_name = (SELECT option_value FROM pg_options_to_table(cmd.ftoptions)
                               WHERE option_name = 'table')
    LOOP
      EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', cmd.rel, col.column_name, col.description);
    END LOOP;
  END LOOP;
END
$fn$;

CREATE EVENT TRIGGER scaler_fdw_import_comments ON ddl_command_end
  WHEN TAG IN ('IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION @extschema@.comment_imported_tables();

-- ===== units =====
-- Exact unit conversion (src/units.c, docs/units.md).  The catalog is five
-- tables users may extend with rows; rows shipped with the extension have
-- builtin = true, are read-only, and are left out of pg_dump (the
-- extension recreates them), while users' rows are dumped.

-- The matching key of a unit or fuel spelling: case folded, white space and
-- . - _ * ^ dropped, superscript digits read as digits.
CREATE FUNCTION @extschema@.unit_key(text)
RETURNS text
AS 'MODULE_PATHNAME', 'scaler_unit_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The same with case kept: symbols are matched by it first, and are unique
-- by it, so MW (mega) and mW (milli) can both exist.
CREATE FUNCTION @extschema@.unit_exact_key(text)
RETURNS text
AS 'MODULE_PATHNAME', 'scaler_unit_exact_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE @extschema@.unit (
  symbol      text PRIMARY KEY
              CHECK (symbol ~ '^[A-Za-z][A-Za-z0-9_]*$' AND length(symbol) <= 32),
  dimension   text NOT NULL CHECK (dimension ~ '^[a-z][a-z_]*$' AND length(dimension) <= 32),
  -- exact: how many of the dimension's base unit (J, m3, kg, W, VA, var,
  -- varh, VAh) one of this unit is
  factor      numeric NOT NULL CHECK (factor > 0 AND factor < 'Infinity'),
  description text NOT NULL,
  source      text,
  builtin     boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX unit_symbol_key ON @extschema@.unit (@extschema@.unit_exact_key(symbol));
-- symbols that differ only in case share this key: matching them ignoring
-- case is an error, never a guess
CREATE INDEX unit_symbol_folded_key ON @extschema@.unit (@extschema@.unit_key(symbol));

CREATE TABLE @extschema@.unit_alias (
  alias      text NOT NULL
             CHECK (octet_length(alias) <= 120 AND @extschema@.unit_key(alias) <> ''),
  -- 'common': the alias means the same in every vocabulary
  vocabulary text NOT NULL DEFAULT 'common'
             CHECK (vocabulary ~ '^[a-z][a-z0-9_]*$' AND length(vocabulary) <= 32),
  symbol     text NOT NULL REFERENCES @extschema@.unit ON UPDATE CASCADE ON DELETE CASCADE,
  builtin    boolean NOT NULL DEFAULT false
);
-- a user row overrides the built-in row with the same key and vocabulary
CREATE UNIQUE INDEX unit_alias_key
  ON @extschema@.unit_alias (@extschema@.unit_key(alias), vocabulary, builtin);

CREATE TABLE @extschema@.fuel (
  fuel        text PRIMARY KEY CHECK (fuel ~ '^[a-z][a-z0-9_]*$' AND length(fuel) <= 64),
  description text NOT NULL,
  -- a form of another fuel (propane_liquid of propane): a quantity of that
  -- fuel in a unit that does not tell its form is an error naming its forms
  variant_of  text REFERENCES @extschema@.fuel ON UPDATE CASCADE ON DELETE SET NULL,
  builtin     boolean NOT NULL DEFAULT false
);
-- fuel names and aliases share one key space (fuel_key_check)
CREATE UNIQUE INDEX fuel_name_key ON @extschema@.fuel (@extschema@.unit_key(fuel));

CREATE TABLE @extschema@.fuel_alias (
  alias   text NOT NULL
          CHECK (octet_length(alias) <= 120 AND @extschema@.unit_key(alias) <> ''),
  fuel    text NOT NULL REFERENCES @extschema@.fuel ON UPDATE CASCADE ON DELETE CASCADE,
  builtin boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX fuel_alias_key
  ON @extschema@.fuel_alias (@extschema@.unit_key(alias), builtin);

-- Energy in one per_unit of the fuel.  A quantity in another unit uses the
-- row for its own unit when there is one, else the reference row of its
-- dimension, converted exactly; users' rows before built-in ones.  A fuel
-- has at most one reference row per country and dimension among users' rows
-- and one among built-in rows (fuel_heat_content_check).
CREATE TABLE @extschema@.fuel_heat_content (
  fuel              text NOT NULL
                    REFERENCES @extschema@.fuel ON UPDATE CASCADE ON DELETE CASCADE,
  country           text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  per_unit          text NOT NULL REFERENCES @extschema@.unit ON UPDATE CASCADE,
  heat_content      numeric NOT NULL CHECK (heat_content > 0 AND heat_content < 'Infinity'),
  heat_content_unit text NOT NULL REFERENCES @extschema@.unit ON UPDATE CASCADE,
  reference         boolean NOT NULL DEFAULT false,
  source            text,
  edition           text,
  url               text,
  note              text,
  builtin           boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX fuel_heat_content_key
  ON @extschema@.fuel_heat_content (fuel, country, per_unit, builtin);

-- ---- key spaces and checks ----
-- These triggers run for the built-in rows below too.  units.c never
-- relies on them to avoid a guess: what they refuse is an error there.

-- Symbols win over aliases: an alias may not have the key of another
-- unit's symbol (it would change what "KWH" means in everyone's data), and
-- a unit may not take the key of another unit's alias.
CREATE FUNCTION @extschema@.units_key_check()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  old_symbol text;
  other record;
BEGIN
  IF TG_TABLE_NAME = 'unit_alias' THEN
    SELECT u.symbol, u.description INTO other
      FROM @extschema@.unit u
     WHERE @extschema@.unit_key(u.symbol) = @extschema@.unit_key(NEW.alias)
       AND u.symbol <> NEW.symbol
     ORDER BY u.symbol LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'alias "%" has the key of unit symbol "%"', left(NEW.alias, 64), other.symbol
        USING ERRCODE = 'unique_violation',
              DETAIL = format('Ignoring case, spaces and . - _ * ^ it spells "%s" (%s); an alias to "%s" would change what that means in everyone''s data.',
                              other.symbol, other.description, NEW.symbol),
              HINT = 'Unit symbols win over aliases: choose another spelling.';
    END IF;
  ELSE
    IF TG_OP = 'UPDATE' THEN
      old_symbol := OLD.symbol;  -- aliases follow a renamed symbol
    END IF;
    SELECT a.alias, a.vocabulary, a.symbol INTO other
      FROM @extschema@.unit_alias a
     WHERE @extschema@.unit_key(a.alias) = @extschema@.unit_key(NEW.symbol)
       AND a.symbol <> NEW.symbol AND a.symbol IS DISTINCT FROM old_symbol
     ORDER BY a.vocabulary, a.alias LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'unit symbol "%" has the key of alias "%" of unit "%"',
                      NEW.symbol, other.alias, other.symbol
        USING ERRCODE = 'unique_violation',
              DETAIL = format('In vocabulary %s, "%s" means "%s"; symbols win over aliases, so this unit would take that spelling from it.',
                              other.vocabulary, other.alias, other.symbol),
              HINT = 'Choose another symbol.';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

-- Fuel names and aliases share one key space: a name wins over any alias,
-- a user's alias over a built-in one; nothing else may share a key.
CREATE FUNCTION @extschema@.fuel_key_check()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  k text;
  old_fuel text;
  old_alias text;
  other record;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    old_fuel := OLD.fuel;
  END IF;
  IF TG_TABLE_NAME = 'fuel' THEN
    k := @extschema@.unit_key(NEW.fuel);
    SELECT f.fuel INTO other FROM @extschema@.fuel f
     WHERE @extschema@.unit_key(f.fuel) = k AND f.fuel <> NEW.fuel
       AND f.fuel IS DISTINCT FROM old_fuel
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'fuel "%" has the key of fuel "%"', NEW.fuel, other.fuel
        USING ERRCODE = 'unique_violation',
              DETAIL = 'Fuels are matched ignoring case, spaces and . - _ * ^, so one of them could never be reached.',
              HINT = format('Use fuel "%s", or choose a name that differs in more than case and punctuation.', other.fuel);
    END IF;
    SELECT a.alias, a.fuel INTO other FROM @extschema@.fuel_alias a
     WHERE @extschema@.unit_key(a.alias) = k AND a.fuel <> NEW.fuel
       AND a.fuel IS DISTINCT FROM old_fuel
     ORDER BY a.builtin, a.alias LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'fuel "%" has the key of alias "%" of fuel "%"', NEW.fuel, other.alias, other.fuel
        USING ERRCODE = 'unique_violation',
              DETAIL = 'Fuel names and aliases share one key space, and a name would take the alias from its fuel.',
              HINT = 'Choose another name.';
    END IF;
  ELSE
    k := @extschema@.unit_key(NEW.alias);
    IF TG_OP = 'UPDATE' THEN
      old_alias := OLD.alias;
    END IF;
    SELECT f.fuel INTO other FROM @extschema@.fuel f
     WHERE @extschema@.unit_key(f.fuel) = k AND f.fuel <> NEW.fuel
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'alias "%" has the key of fuel "%"', left(NEW.alias, 64), other.fuel
        USING ERRCODE = 'unique_violation',
              DETAIL = 'Fuel names win over aliases, so the alias could never be reached.',
              HINT = 'Choose another spelling.';
    END IF;
    SELECT a.alias, a.fuel INTO other FROM @extschema@.fuel_alias a
     WHERE @extschema@.unit_key(a.alias) = k AND a.builtin = NEW.builtin
       AND a.fuel <> NEW.fuel
       AND (a.alias, a.fuel) IS DISTINCT FROM (old_alias, old_fuel)
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'alias "%" has the key of alias "%" of fuel "%"', left(NEW.alias, 64), other.alias, other.fuel
        USING ERRCODE = 'unique_violation',
              DETAIL = 'A key names one fuel; only a user''s alias may override a built-in one.',
              HINT = 'Change or delete the other alias first.';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE FUNCTION @extschema@.fuel_heat_content_check()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  per_dim text;
  heat_dim text;
  old_per_unit text;
  other record;
BEGIN
  SELECT dimension INTO per_dim FROM @extschema@.unit WHERE symbol = NEW.per_unit;
  SELECT dimension INTO heat_dim FROM @extschema@.unit WHERE symbol = NEW.heat_content_unit;
  IF heat_dim IS DISTINCT FROM 'energy' THEN
    RAISE EXCEPTION 'heat_content_unit "%" is not an energy unit', NEW.heat_content_unit
      USING ERRCODE = 'check_violation',
            DETAIL = format('Unit "%s" measures %s.', NEW.heat_content_unit, heat_dim),
            HINT = 'Give the heat content in an energy unit such as kBtu, MJ or kWh.';
  END IF;
  IF per_dim = 'energy' THEN
    RAISE EXCEPTION 'per_unit "%" is an energy unit', NEW.per_unit
      USING ERRCODE = 'check_violation',
            HINT = 'per_unit is the unit the fuel is measured in, such as m3, gal_US or short_ton.';
  END IF;
  -- one reference row per fuel, country and dimension, so none is chosen
  -- by table order (users' rows and built-in ones each have their own)
  IF NEW.reference THEN
    -- the row being updated is not another row
    IF TG_OP = 'UPDATE' AND OLD.fuel = NEW.fuel AND OLD.country = NEW.country
       AND OLD.builtin = NEW.builtin THEN
      old_per_unit := OLD.per_unit;
    END IF;
    SELECT h.per_unit, h.heat_content, h.heat_content_unit INTO other
      FROM @extschema@.fuel_heat_content h
      JOIN @extschema@.unit u ON u.symbol = h.per_unit
     WHERE h.fuel = NEW.fuel AND h.country = NEW.country AND h.builtin = NEW.builtin
       AND h.reference AND u.dimension = per_dim AND h.per_unit <> NEW.per_unit
       AND h.per_unit IS DISTINCT FROM old_per_unit
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'fuel "%" already has a reference heat content per % unit in country "%"',
                      NEW.fuel, per_dim, NEW.country
        USING ERRCODE = 'unique_violation',
              DETAIL = format('The reference row is per "%s" (%s %s). A quantity in a unit without a row of its own converts through the reference row of its dimension, so there is one.',
                              other.per_unit, other.heat_content, other.heat_content_unit),
              HINT = 'Insert this row with reference = false, or first set reference = false on the other row.';
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER units_key_check BEFORE INSERT OR UPDATE ON @extschema@.unit
  FOR EACH ROW EXECUTE FUNCTION @extschema@.units_key_check();
CREATE TRIGGER units_key_check BEFORE INSERT OR UPDATE ON @extschema@.unit_alias
  FOR EACH ROW EXECUTE FUNCTION @extschema@.units_key_check();
CREATE TRIGGER fuel_key_check BEFORE INSERT OR UPDATE ON @extschema@.fuel
  FOR EACH ROW EXECUTE FUNCTION @extschema@.fuel_key_check();
CREATE TRIGGER fuel_key_check BEFORE INSERT OR UPDATE ON @extschema@.fuel_alias
  FOR EACH ROW EXECUTE FUNCTION @extschema@.fuel_key_check();
CREATE TRIGGER fuel_heat_content_check
  BEFORE INSERT OR UPDATE ON @extschema@.fuel_heat_content
  FOR EACH ROW EXECUTE FUNCTION @extschema@.fuel_heat_content_check();

-- ---- built-in units: exact definitions ----
INSERT INTO @extschema@.unit (symbol, dimension, factor, description, source, builtin)
SELECT u.symbol, u.dimension, u.factor, u.description, u.source, true
  FROM (VALUES
  -- energy, in joules
  ('J', 'energy', 1, 'joule', 'SI'),
  ('kJ', 'energy', 1000, 'kilojoule', 'SI'),
  ('MJ', 'energy', 1000000, 'megajoule', 'SI'),
  ('GJ', 'energy', 1000000000, 'gigajoule', 'SI'),
  ('TJ', 'energy', 1000000000000, 'terajoule', 'SI'),
  ('Wh', 'energy', 3600, 'watt-hour: 3600 J', 'SI'),
  ('kWh', 'energy', 3600000, 'kilowatt-hour: 3.6 MJ', 'SI'),
  ('MWh', 'energy', 3600000000, 'megawatt-hour', 'SI'),
  ('GWh', 'energy', 3600000000000, 'gigawatt-hour', 'SI'),
  ('TWh', 'energy', 3600000000000000, 'terawatt-hour', 'SI'),
  ('Btu', 'energy', 1055.05585262, 'British thermal unit (International Table)', 'NIST SP 811 (2008), B.8'),
  ('kBtu', 'energy', 1055055.85262, 'thousand Btu (IT)', 'NIST SP 811 (2008), B.8'),
  ('MMBtu', 'energy', 1055055852.62, 'million Btu (IT)', 'NIST SP 811 (2008), B.8'),
  ('therm_US', 'energy', 105480400, 'therm (US): "therm" on a US bill', 'NIST SP 811 (2008), B.8'),
  ('therm_EC', 'energy', 105506000, 'therm (EC), used in the UK and EU', 'NIST SP 811 (2008), B.8; Directive 80/181/EEC'),
  ('therm_IT', 'energy', 105505585.262, 'therm of ENERGY STAR Portfolio Manager: 100 kBtu (IT)', 'ENERGY STAR Portfolio Manager Technical Reference: Thermal Energy Conversions (August 2015)'),
  ('Dth', 'energy', 1054804000, 'dekatherm: 10 therms (US)', 'NIST SP 811 (2008), B.8'),
  ('kcal_IT', 'energy', 4186.8, 'kilocalorie (International Table)', 'NIST SP 811 (2008), B.8'),
  ('kcal_th', 'energy', 4184, 'kilocalorie (thermochemical)', 'NIST SP 811 (2008), B.8'),
  ('Gcal_IT', 'energy', 4186800000, 'gigacalorie (International Table), district heating', 'NIST SP 811 (2008), B.8'),
  ('toe', 'energy', 41868000000, 'tonne of oil equivalent: 10 Gcal (IT) = 41.868 GJ', 'IEA/OECD'),
  ('tce', 'energy', 29307600000, 'tonne of coal equivalent: 7 Gcal (IT) = 29.3076 GJ', 'IEA/UN'),
  ('ton_hour', 'energy', 12660670.23144, 'refrigeration ton-hour: 12,000 Btu (IT)', 'ASHRAE; NIST SP 811 (2008), B.8'),
  -- volume, in cubic metres
  ('m3', 'volume', 1, 'cubic metre', 'SI'),
  ('L', 'volume', 0.001, 'litre', 'SI'),
  ('kcm', 'volume', 1000, 'thousand cubic metres (dam3, e3m3, megalitre)', 'SI'),
  ('ft3', 'volume', 0.028316846592, 'cubic foot', 'NIST SP 811 (2008), B.8; international foot of 1959'),
  ('ccf', 'volume', 2.8316846592, 'hundred cubic feet (also hcf)', 'NIST SP 811 (2008), B.8'),
  ('kcf', 'volume', 28.316846592, 'thousand cubic feet (the "Mcf" of US gas practice)', 'NIST SP 811 (2008), B.8'),
  ('MMcf', 'volume', 28316.846592, 'million cubic feet', 'NIST SP 811 (2008), B.8'),
  ('gal_US', 'volume', 0.003785411784, 'US gallon: 231 cubic inches', 'NIST SP 811 (2008), B.8'),
  ('gal_imp', 'volume', 0.00454609, 'imperial (UK) gallon', 'NIST SP 811 (2008), B.8; UK Weights and Measures Act 1985'),
  ('cgal_US', 'volume', 0.3785411784, 'hundred US gallons', 'NIST SP 811 (2008), B.8'),
  ('cgal_imp', 'volume', 0.454609, 'hundred imperial gallons', 'NIST SP 811 (2008), B.8'),
  ('kgal_US', 'volume', 3.785411784, 'thousand US gallons', 'NIST SP 811 (2008), B.8'),
  ('kgal_imp', 'volume', 4.54609, 'thousand imperial gallons', 'NIST SP 811 (2008), B.8'),
  ('Mgal_US', 'volume', 3785.411784, 'million US gallons', 'NIST SP 811 (2008), B.8'),
  ('Mgal_imp', 'volume', 4546.09, 'million imperial gallons', 'NIST SP 811 (2008), B.8'),
  ('bbl', 'volume', 0.158987294928, 'barrel (US, petroleum): 42 US gallons', 'NIST SP 811 (2008), B.8'),
  ('yd3', 'volume', 0.764554857984, 'cubic yard', 'NIST SP 811 (2008), B.8'),
  -- mass, in kilograms
  ('kg', 'mass', 1, 'kilogram', 'SI'),
  ('g', 'mass', 0.001, 'gram', 'SI'),
  ('tonne', 'mass', 1000, 'tonne (metric ton)', 'SI'),
  ('lb', 'mass', 0.45359237, 'pound (avoirdupois)', 'NIST SP 811 (2008), B.8'),
  ('klb', 'mass', 453.59237, 'thousand pounds', 'NIST SP 811 (2008), B.8'),
  ('MMlb', 'mass', 453592.37, 'million pounds', 'NIST SP 811 (2008), B.8'),
  ('short_ton', 'mass', 907.18474, 'short ton: 2000 lb', 'NIST SP 811 (2008), B.8'),
  ('long_ton', 'mass', 1016.0469088, 'long ton: 2240 lb', 'NIST SP 811 (2008), B.8'),
  -- power, in watts; reactive and apparent quantities are dimensions of their own
  ('W', 'power', 1, 'watt', 'SI'),
  ('kW', 'power', 1000, 'kilowatt', 'SI'),
  ('MW', 'power', 1000000, 'megawatt', 'SI'),
  ('GW', 'power', 1000000000, 'gigawatt', 'SI'),
  ('VA', 'apparent_power', 1, 'volt-ampere', 'IEC 60050-131'),
  ('kVA', 'apparent_power', 1000, 'kilovolt-ampere', 'IEC 60050-131'),
  ('MVA', 'apparent_power', 1000000, 'megavolt-ampere', 'IEC 60050-131'),
  ('var', 'reactive_power', 1, 'var (volt-ampere reactive)', 'IEC 60050-131'),
  ('kvar', 'reactive_power', 1000, 'kilovar', 'IEC 60050-131'),
  ('Mvar', 'reactive_power', 1000000, 'megavar', 'IEC 60050-131'),
  ('varh', 'reactive_energy', 1, 'var-hour', 'IEC 60050-131'),
  ('kvarh', 'reactive_energy', 1000, 'kilovar-hour', 'IEC 60050-131'),
  ('Mvarh', 'reactive_energy', 1000000, 'megavar-hour', 'IEC 60050-131'),
  ('VAh', 'apparent_energy', 1, 'volt-ampere-hour', 'IEC 60050-131'),
  ('kVAh', 'apparent_energy', 1000, 'kilovolt-ampere-hour', 'IEC 60050-131')
  ) AS u(symbol, dimension, factor, description, source);

-- ---- built-in aliases ----
-- 'common' holds spellings that mean one thing everywhere; a vocabulary
-- holds the spellings whose meaning depends on who wrote them.
INSERT INTO @extschema@.unit_alias (alias, vocabulary, symbol, builtin)
SELECT a.alias, a.vocabulary, a.symbol, true
  FROM (VALUES
  -- energy
  ('joule', 'common', 'J'), ('joules', 'common', 'J'),
  ('kilojoule', 'common', 'kJ'), ('kilojoules', 'common', 'kJ'),
  ('megajoule', 'common', 'MJ'), ('megajoules', 'common', 'MJ'),
  ('gigajoule', 'common', 'GJ'), ('gigajoules', 'common', 'GJ'),
  ('GJ (billion joules)', 'common', 'GJ'),
  ('terajoule', 'common', 'TJ'), ('terajoules', 'common', 'TJ'),
  ('watt-hour', 'common', 'Wh'), ('watt-hours', 'common', 'Wh'),
  ('Wh (Watt-hours)', 'common', 'Wh'),
  ('kilowatt-hour', 'common', 'kWh'), ('kilowatt-hours', 'common', 'kWh'),
  ('kWh (thousand Watt-hours)', 'common', 'kWh'),
  ('megawatt-hour', 'common', 'MWh'), ('megawatt-hours', 'common', 'MWh'),
  ('MWh (million Watt-hours)', 'common', 'MWh'),
  ('gigawatt-hour', 'common', 'GWh'), ('gigawatt-hours', 'common', 'GWh'),
  ('terawatt-hour', 'common', 'TWh'), ('terawatt-hours', 'common', 'TWh'),
  ('British thermal unit', 'common', 'Btu'), ('British thermal units', 'common', 'Btu'),
  ('Btu (IT)', 'common', 'Btu'), ('Btu_IT', 'common', 'Btu'), ('Btus', 'common', 'Btu'),
  ('kBtu (thousand Btu)', 'common', 'kBtu'), ('thousand Btu', 'common', 'kBtu'),
  ('kBtus', 'common', 'kBtu'),
  ('MMBtu (million Btu)', 'common', 'MMBtu'), ('MBtu (million Btu)', 'common', 'MMBtu'),
  ('MBtu/MMBtu (million Btu)', 'common', 'MMBtu'), ('million Btu', 'common', 'MMBtu'),
  ('MMBtus', 'common', 'MMBtu'),
  -- bare "therm" is the US therm only without a vocabulary: uk, eu and
  -- energy_star define it otherwise, so a vocabulary must say (docs/units.md)
  ('therm', 'common', 'therm_US'), ('therms', 'common', 'therm_US'),
  ('thm', 'common', 'therm_US'), ('therm (US)', 'common', 'therm_US'),
  ('US therm', 'common', 'therm_US'), ('therms (US)', 'common', 'therm_US'),
  ('therm (EC)', 'common', 'therm_EC'), ('EC therm', 'common', 'therm_EC'),
  ('therms (EC)', 'common', 'therm_EC'), ('therm (UK)', 'common', 'therm_EC'),
  ('UK therm', 'common', 'therm_EC'),
  ('therm (100 kBtu)', 'common', 'therm_IT'),
  ('dekatherm', 'common', 'Dth'), ('dekatherms', 'common', 'Dth'),
  ('decatherm', 'common', 'Dth'), ('decatherms', 'common', 'Dth'), ('Dths', 'common', 'Dth'),
  ('kcal (IT)', 'common', 'kcal_IT'), ('kilocalorie (IT)', 'common', 'kcal_IT'),
  ('kcal (thermochemical)', 'common', 'kcal_th'), ('kcal (th)', 'common', 'kcal_th'),
  ('Gcal (IT)', 'common', 'Gcal_IT'),
  ('tonne of oil equivalent', 'common', 'toe'), ('tonnes of oil equivalent', 'common', 'toe'),
  ('tonne of coal equivalent', 'common', 'tce'), ('tonnes of coal equivalent', 'common', 'tce'),
  ('ton-hour', 'common', 'ton_hour'), ('ton hours', 'common', 'ton_hour'),
  ('refrigeration ton-hour', 'common', 'ton_hour'),
  ('refrigeration ton-hours', 'common', 'ton_hour'),
  -- volume
  ('cubic meter', 'common', 'm3'), ('cubic meters', 'common', 'm3'),
  ('cubic metre', 'common', 'm3'), ('cubic metres', 'common', 'm3'),
  ('cu m', 'common', 'm3'), ('cm (Cubic meters)', 'common', 'm3'),
  ('liter', 'common', 'L'), ('liters', 'common', 'L'),
  ('litre', 'common', 'L'), ('litres', 'common', 'L'),
  ('Kcm (Thousand Cubic meters)', 'common', 'kcm'),
  ('thousand cubic meters', 'common', 'kcm'), ('thousand cubic metres', 'common', 'kcm'),
  ('dam3', 'common', 'kcm'), ('e3m3', 'common', 'kcm'),
  ('megalitre', 'common', 'kcm'), ('megalitres', 'common', 'kcm'),
  ('megaliter', 'common', 'kcm'), ('megaliters', 'common', 'kcm'),
  ('cf', 'common', 'ft3'), ('cu ft', 'common', 'ft3'), ('cubic foot', 'common', 'ft3'),
  ('cubic feet', 'common', 'ft3'), ('cf (cubic feet)', 'common', 'ft3'),
  ('hcf', 'common', 'ccf'), ('hundred cubic feet', 'common', 'ccf'),
  ('ccf (hundred cubic feet)', 'common', 'ccf'), ('hcf (hundred cubic feet)', 'common', 'ccf'),
  ('thousand cubic feet', 'common', 'kcf'), ('Kcf (thousand cubic feet)', 'common', 'kcf'),
  ('Mcf (thousand cubic feet)', 'common', 'kcf'),
  ('million cubic feet', 'common', 'MMcf'), ('MCF(million cubic feet)', 'common', 'MMcf'),
  ('MMcf (million cubic feet)', 'common', 'MMcf'),
  ('US gallon', 'common', 'gal_US'), ('US gallons', 'common', 'gal_US'),
  ('gallon (US)', 'common', 'gal_US'), ('Gallons (US)', 'common', 'gal_US'),
  ('gal (US)', 'common', 'gal_US'), ('US gal', 'common', 'gal_US'),
  ('imperial gallon', 'common', 'gal_imp'), ('imperial gallons', 'common', 'gal_imp'),
  ('gallon (UK)', 'common', 'gal_imp'), ('Gallons (UK)', 'common', 'gal_imp'),
  ('gal (UK)', 'common', 'gal_imp'), ('UK gal', 'common', 'gal_imp'),
  ('UK gallon', 'common', 'gal_imp'), ('UK gallons', 'common', 'gal_imp'),
  ('gal (imp)', 'common', 'gal_imp'), ('imp gal', 'common', 'gal_imp'),
  ('cGal (hundred gallons) (US)', 'common', 'cgal_US'),
  ('cGal (hundred gallons) (UK)', 'common', 'cgal_imp'),
  ('KGal (thousand gallons) (US)', 'common', 'kgal_US'), ('kgal (US)', 'common', 'kgal_US'),
  ('thousand US gallons', 'common', 'kgal_US'),
  ('kGal (thousand gallons) (UK)', 'common', 'kgal_imp'), ('kgal (UK)', 'common', 'kgal_imp'),
  ('MGal (million gallons) (US)', 'common', 'Mgal_US'), ('million US gallons', 'common', 'Mgal_US'),
  ('MGal (million gallons) (UK)', 'common', 'Mgal_imp'),
  ('barrel (US petroleum)', 'common', 'bbl'), ('oil barrel', 'common', 'bbl'),
  ('cubic yard', 'common', 'yd3'), ('cubic yards', 'common', 'yd3'), ('cu yd', 'common', 'yd3'),
  -- mass
  ('kilogram', 'common', 'kg'), ('kilograms', 'common', 'kg'),
  ('kg (kilograms)', 'common', 'kg'), ('kgs', 'common', 'kg'),
  ('gram', 'common', 'g'), ('grams', 'common', 'g'),
  ('tonnes', 'common', 'tonne'), ('metric ton', 'common', 'tonne'),
  ('metric tons', 'common', 'tonne'), ('metric tonne', 'common', 'tonne'),
  ('metric tonnes', 'common', 'tonne'), ('Tonnes (metric)', 'common', 'tonne'),
  ('lbs', 'common', 'lb'), ('lbm', 'common', 'lb'), ('pound', 'common', 'lb'),
  ('pounds', 'common', 'lb'), ('Lbs. (pounds)', 'common', 'lb'),
  ('klbs', 'common', 'klb'), ('thousand pounds', 'common', 'klb'),
  ('KLbs. (thousand pounds)', 'common', 'klb'),
  ('MMlbs', 'common', 'MMlb'), ('million pounds', 'common', 'MMlb'),
  ('MLbs. (million pounds)', 'common', 'MMlb'),
  ('short ton', 'common', 'short_ton'), ('short tons', 'common', 'short_ton'),
  ('US ton', 'common', 'short_ton'), ('US tons', 'common', 'short_ton'),
  ('ton (US)', 'common', 'short_ton'), ('tons (US)', 'common', 'short_ton'),
  ('long ton', 'common', 'long_ton'), ('long tons', 'common', 'long_ton'),
  ('imperial ton', 'common', 'long_ton'), ('imperial tons', 'common', 'long_ton'),
  ('ton (UK)', 'common', 'long_ton'), ('tons (UK)', 'common', 'long_ton'),
  -- power and the electrical quantities
  ('watt', 'common', 'W'), ('watts', 'common', 'W'),
  ('kilowatt', 'common', 'kW'), ('kilowatts', 'common', 'kW'),
  ('megawatt', 'common', 'MW'), ('megawatts', 'common', 'MW'),
  ('gigawatt', 'common', 'GW'), ('gigawatts', 'common', 'GW'),
  ('volt-ampere', 'common', 'VA'), ('volt-amperes', 'common', 'VA'),
  ('kilovolt-ampere', 'common', 'kVA'), ('kilovolt-amperes', 'common', 'kVA'),
  ('volt-ampere reactive', 'common', 'var'),
  -- US utility practice: M is the Roman thousand (Mcf, MBtu, Mlb)
  ('Mcf', 'us', 'kcf'), ('MBtu', 'us', 'kBtu'), ('Mlb', 'us', 'klb'), ('Mlbs', 'us', 'klb'),
  ('gal', 'us', 'gal_US'), ('gallon', 'us', 'gal_US'), ('gallons', 'us', 'gal_US'),
  ('kgal', 'us', 'kgal_US'), ('ton', 'us', 'short_ton'), ('tons', 'us', 'short_ton'),
  ('therm', 'us', 'therm_US'), ('therms', 'us', 'therm_US'), ('thm', 'us', 'therm_US'),
  -- UtilityAPI: kwh, kw, kva, kvar, kvarh, therms, ccf, mcf, hcf, gallons, m3
  ('mcf', 'utilityapi', 'kcf'), ('gallons', 'utilityapi', 'gal_US'),
  ('therms', 'utilityapi', 'therm_US'), ('therm', 'utilityapi', 'therm_US'),
  -- ENERGY STAR Portfolio Manager: M is million ("MBtu (million Btu)",
  -- "MCF(million cubic feet)"), "tons" are short tons, a therm is 100 kBtu
  ('MBtu', 'energy_star', 'MMBtu'), ('Mcf', 'energy_star', 'MMcf'),
  ('MLbs', 'energy_star', 'MMlb'), ('Mlb', 'energy_star', 'MMlb'),
  ('tons', 'energy_star', 'short_ton'), ('ton', 'energy_star', 'short_ton'),
  ('cm', 'energy_star', 'm3'),
  ('therm', 'energy_star', 'therm_IT'), ('therms', 'energy_star', 'therm_IT'),
  -- United Kingdom: EC therm, imperial gallon, long ton
  ('therm', 'uk', 'therm_EC'), ('therms', 'uk', 'therm_EC'), ('thm', 'uk', 'therm_EC'),
  ('gal', 'uk', 'gal_imp'), ('gallon', 'uk', 'gal_imp'), ('gallons', 'uk', 'gal_imp'),
  ('kgal', 'uk', 'kgal_imp'), ('ton', 'uk', 'long_ton'), ('tons', 'uk', 'long_ton'),
  ('t', 'uk', 'tonne'),
  -- European Union: EC therm, metric ton, International Table calorie
  ('therm', 'eu', 'therm_EC'), ('therms', 'eu', 'therm_EC'), ('thm', 'eu', 'therm_EC'),
  ('ton', 'eu', 'tonne'), ('tons', 'eu', 'tonne'), ('t', 'eu', 'tonne'),
  ('kcal', 'eu', 'kcal_IT'), ('Gcal', 'eu', 'Gcal_IT'),
  -- Green Button / NAESB ESPI ReadingType uom codes (with powerOfTenMultiplier:
  -- scaler.espi_unit)
  ('31', 'espi', 'J'), ('38', 'espi', 'W'), ('42', 'espi', 'm3'), ('61', 'espi', 'VA'),
  ('63', 'espi', 'var'), ('71', 'espi', 'VAh'), ('72', 'espi', 'Wh'), ('73', 'espi', 'varh'),
  ('119', 'espi', 'ft3'), ('128', 'espi', 'gal_US'), ('132', 'espi', 'Btu'), ('134', 'espi', 'L'),
  ('169', 'espi', 'therm_US')
  ) AS a(alias, vocabulary, symbol);

-- ---- fuels and their default heat contents ----
INSERT INTO @extschema@.fuel (fuel, description, builtin)
SELECT f.fuel, f.description, true
  FROM (VALUES
  ('electricity', 'electricity (grid or on-site renewable)'),
  ('natural_gas', 'natural gas'),
  ('fuel_oil_1', 'fuel oil No. 1'),
  ('fuel_oil_2', 'fuel oil No. 2 (heating oil)'),
  ('fuel_oil_4', 'fuel oil No. 4'),
  ('fuel_oil_5_6', 'fuel oil No. 5 and No. 6 (residual)'),
  ('diesel', 'diesel'),
  ('kerosene', 'kerosene'),
  ('propane', 'propane as Portfolio Manager meters it: liquid by the gallon or litre, gas by the cubic foot; in other units say propane_liquid or propane_gas'),
  ('district_steam', 'district steam'),
  ('district_hot_water', 'district hot water'),
  ('district_chilled_water', 'district chilled water'),
  ('coal_anthracite', 'coal (anthracite)'),
  ('coal_bituminous', 'coal (bituminous)'),
  ('coke', 'coke'),
  ('wood', 'wood')
  ) AS f(fuel, description);

-- Propane's two forms, so no unit is read as the wrong one: a liquid gallon
-- holds about 270 times the energy of a gaseous cubic foot.
INSERT INTO @extschema@.fuel (fuel, description, variant_of, builtin)
SELECT f.fuel, f.description, 'propane', true
  FROM (VALUES
  ('propane_liquid', 'propane, liquid (LPG as delivered by the gallon or litre)'),
  ('propane_gas', 'propane, gaseous (metered by the cubic foot)')
  ) AS f(fuel, description);

-- ENERGY STAR Portfolio Manager meter type names, and common names
INSERT INTO @extschema@.fuel_alias (alias, fuel, builtin)
SELECT a.alias, a.fuel, true
  FROM (VALUES
  ('Electric', 'electricity'), ('Electric - Grid', 'electricity'),
  ('Electric - Solar', 'electricity'), ('Electric - Wind', 'electricity'),
  ('Electric - Unknown', 'electricity'),
  ('Electricity (Grid Purchase and Onsite Renewable)', 'electricity'),
  ('gas', 'natural_gas'),
  ('Fuel Oil (No. 1)', 'fuel_oil_1'), ('Fuel Oil No. 1', 'fuel_oil_1'),
  ('Fuel Oil (No. 2)', 'fuel_oil_2'), ('Fuel Oil No. 2', 'fuel_oil_2'),
  ('heating oil', 'fuel_oil_2'),
  ('Fuel Oil (No. 4)', 'fuel_oil_4'), ('Fuel Oil No. 4', 'fuel_oil_4'),
  ('Fuel Oil (No. 5 and No. 6)', 'fuel_oil_5_6'), ('Fuel Oil (No. 5 & No. 6)', 'fuel_oil_5_6'),
  ('District Chilled Water - Electric', 'district_chilled_water'),
  ('District Chilled Water - Absorption', 'district_chilled_water'),
  ('District Chilled Water - Engine', 'district_chilled_water'),
  ('District Chilled Water - Other', 'district_chilled_water'),
  ('Coal (anthracite)', 'coal_anthracite'), ('anthracite', 'coal_anthracite'),
  ('Coal (bituminous)', 'coal_bituminous'), ('bituminous coal', 'coal_bituminous'),
  ('Propane (liquid)', 'propane_liquid'), ('liquid propane', 'propane_liquid'),
  ('Propane (gas)', 'propane_gas'), ('gaseous propane', 'propane_gas')
  ) AS a(alias, fuel);

-- ENERGY STAR Portfolio Manager Technical Reference: Thermal Energy
-- Conversions, August 2015 (Figure 3): kBtu per unit as printed, for every
-- physical unit Portfolio Manager accepts.  The reference row of each fuel
-- carries the table's heat content at its full printed precision.  Propane
-- has the rows of its Portfolio Manager units and no reference row (a unit
-- such as m3 does not tell liquid from gas); its forms propane_liquid and
-- propane_gas have the same figures, with reference rows.
INSERT INTO @extschema@.fuel_heat_content
  (fuel, country, per_unit, heat_content, heat_content_unit, reference,
   source, edition, url, note, builtin)
SELECT h.fuel, h.country, h.per_unit, h.kbtu, 'kBtu', h.reference,
       'ENERGY STAR Portfolio Manager Technical Reference: Thermal Energy Conversions',
       'August 2015',
       'https://portfoliomanager.energystar.gov/pdf/reference/Thermal%20Conversions.pdf',
       h.note, true
  FROM (VALUES
  -- United States
  ('natural_gas', 'US', 'ft3', 1.026, true, 'heat content 1,026 Btu/cf'),
  ('natural_gas', 'US', 'ccf', 102.6, false, NULL),
  ('natural_gas', 'US', 'kcf', 1026, false, NULL),
  ('natural_gas', 'US', 'MMcf', 1026000, false, NULL),
  ('natural_gas', 'US', 'm3', 36.303, false,
   'as printed; 1,026 Btu/cf gives 36.233 kBtu/m3'),
  ('fuel_oil_1', 'US', 'gal_US', 139, true, 'heat content 0.139 MBtu/gallon'),
  ('fuel_oil_1', 'US', 'gal_imp', 166.927, false, NULL),
  ('fuel_oil_1', 'US', 'L', 36.720, false, NULL),
  ('fuel_oil_2', 'US', 'gal_US', 138, true, 'heat content 0.138 MBtu/gallon'),
  ('fuel_oil_2', 'US', 'gal_imp', 165.726, false, NULL),
  ('fuel_oil_2', 'US', 'L', 36.456, false, NULL),
  ('fuel_oil_4', 'US', 'gal_US', 146, true, 'heat content 0.146 MBtu/gallon'),
  ('fuel_oil_4', 'US', 'gal_imp', 175.333, false, NULL),
  ('fuel_oil_4', 'US', 'L', 38.569, false, NULL),
  ('fuel_oil_5_6', 'US', 'gal_US', 150, true, 'heat content 0.150 MBtu/gallon'),
  ('fuel_oil_5_6', 'US', 'gal_imp', 180.137, false, NULL),
  ('fuel_oil_5_6', 'US', 'L', 39.626, false, NULL),
  ('diesel', 'US', 'gal_US', 138, true, 'heat content 0.138 MBtu/gallon'),
  ('diesel', 'US', 'gal_imp', 165.726, false, NULL),
  ('diesel', 'US', 'L', 36.456, false, NULL),
  ('kerosene', 'US', 'gal_US', 135, true, 'heat content 0.135 MBtu/gallon'),
  ('kerosene', 'US', 'gal_imp', 162.123, false, NULL),
  ('kerosene', 'US', 'L', 35.663, false, NULL),
  ('propane', 'US', 'gal_US', 92, false, 'liquid; heat content 0.092 MBtu/gallon'),
  ('propane', 'US', 'gal_imp', 110.484, false, 'liquid'),
  ('propane', 'US', 'L', 24.304, false, 'liquid'),
  ('propane', 'US', 'ft3', 2.516, false, 'gas'),
  ('propane', 'US', 'ccf', 251.6, false, 'gas'),
  ('propane', 'US', 'kcf', 2516, false, 'gas'),
  ('propane_liquid', 'US', 'gal_US', 92, true, 'heat content 0.092 MBtu/gallon'),
  ('propane_liquid', 'US', 'gal_imp', 110.484, false, NULL),
  ('propane_liquid', 'US', 'L', 24.304, false, NULL),
  ('propane_gas', 'US', 'ft3', 2.516, true, 'heat content 2,516 Btu/cf'),
  ('propane_gas', 'US', 'ccf', 251.6, false, NULL),
  ('propane_gas', 'US', 'kcf', 2516, false, NULL),
  ('district_steam', 'US', 'lb', 1.194, true, 'heat content 1,194 Btu/lb'),
  ('district_steam', 'US', 'klb', 1194, false, NULL),
  ('district_steam', 'US', 'MMlb', 1194000, false, NULL),
  ('district_steam', 'US', 'kg', 2.632, false, NULL),
  ('coal_anthracite', 'US', 'short_ton', 25090, true, 'heat content 25.09 MBtu/ton'),
  ('coal_anthracite', 'US', 'lb', 12.545, false, NULL),
  ('coal_anthracite', 'US', 'klb', 12545, false, NULL),
  ('coal_anthracite', 'US', 'MMlb', 12545000, false, NULL),
  ('coal_anthracite', 'US', 'tonne', 27658.355, false, NULL),
  ('coal_bituminous', 'US', 'short_ton', 24930, true, 'heat content 24.93 MBtu/ton'),
  ('coal_bituminous', 'US', 'lb', 12.465, false, NULL),
  ('coal_bituminous', 'US', 'klb', 12465, false, NULL),
  ('coal_bituminous', 'US', 'MMlb', 12465000, false, NULL),
  ('coal_bituminous', 'US', 'tonne', 27482, false, NULL),
  ('coke', 'US', 'short_ton', 24800, true, 'heat content 24.80 MBtu/ton'),
  ('coke', 'US', 'lb', 12.4, false, NULL),
  ('coke', 'US', 'klb', 12400, false, NULL),
  ('coke', 'US', 'MMlb', 12400000, false, NULL),
  ('coke', 'US', 'tonne', 27339, false, NULL),
  ('wood', 'US', 'short_ton', 17480, true, 'heat content 17.48 MBtu/ton'),
  ('wood', 'US', 'tonne', 15857, false,
   'as printed; 17.48 MBtu/ton gives 19,268 kBtu/tonne'),
  -- Canada
  ('natural_gas', 'CA', 'ft3', 1.031, false, 'as printed, rounded'),
  ('natural_gas', 'CA', 'ccf', 103.143, true, 'heat content 1,031.43 Btu/cf'),
  ('natural_gas', 'CA', 'kcf', 1031, false, 'as printed, rounded'),
  ('natural_gas', 'CA', 'MMcf', 1031430, false, NULL),
  ('natural_gas', 'CA', 'm3', 36.425, false, NULL),
  ('fuel_oil_1', 'CA', 'gal_US', 139.210, true, 'heat content 0.139210 MBtu/gallon'),
  ('fuel_oil_1', 'CA', 'gal_imp', 167.184, false, NULL),
  ('fuel_oil_1', 'CA', 'L', 36.775, false, NULL),
  ('fuel_oil_2', 'CA', 'gal_US', 139.210, true, 'heat content 0.139210 MBtu/gallon'),
  ('fuel_oil_2', 'CA', 'gal_imp', 167.184, false, NULL),
  ('fuel_oil_2', 'CA', 'L', 36.775, false, NULL),
  ('fuel_oil_4', 'CA', 'gal_US', 139.210, true, 'heat content 0.139210 MBtu/gallon'),
  ('fuel_oil_4', 'CA', 'gal_imp', 167.184, false, NULL),
  ('fuel_oil_4', 'CA', 'L', 36.775, false, NULL),
  ('fuel_oil_5_6', 'CA', 'gal_US', 152.485, true, 'heat content 0.152485 MBtu/gallon'),
  ('fuel_oil_5_6', 'CA', 'gal_imp', 183.127, false, NULL),
  ('fuel_oil_5_6', 'CA', 'L', 40.282, false, NULL),
  ('diesel', 'CA', 'gal_US', 137.416, true, 'heat content 0.137416 MBtu/gallon'),
  ('diesel', 'CA', 'gal_imp', 165.029, false, NULL),
  ('diesel', 'CA', 'L', 36.301, false, NULL),
  ('kerosene', 'CA', 'gal_US', 135.191, true, 'heat content 0.135191 MBtu/gallon'),
  ('kerosene', 'CA', 'gal_imp', 162.358, false, NULL),
  ('kerosene', 'CA', 'L', 35.714, false, NULL),
  ('propane', 'CA', 'gal_US', 90.809, false,
   'liquid; the printed heat content 0.09089 MBtu/gallon drops a digit: all three liquid multipliers follow 0.090809'),
  ('propane', 'CA', 'gal_imp', 109.057, false, 'liquid'),
  ('propane', 'CA', 'L', 23.989, false, 'liquid'),
  ('propane', 'CA', 'ft3', 2.516, false, 'gas'),
  ('propane', 'CA', 'ccf', 251.6, false, 'gas'),
  ('propane', 'CA', 'kcf', 2516, false, 'gas'),
  ('propane_liquid', 'CA', 'gal_US', 90.809, true,
   'the printed heat content 0.09089 MBtu/gallon drops a digit: all three multipliers follow 0.090809'),
  ('propane_liquid', 'CA', 'gal_imp', 109.057, false, NULL),
  ('propane_liquid', 'CA', 'L', 23.989, false, NULL),
  ('propane_gas', 'CA', 'ft3', 2.516, true, 'heat content 2,516 Btu/cf'),
  ('propane_gas', 'CA', 'ccf', 251.6, false, NULL),
  ('propane_gas', 'CA', 'kcf', 2516, false, NULL),
  ('district_steam', 'CA', 'lb', 1.194, true, 'heat content 1,194 Btu/lb'),
  ('district_steam', 'CA', 'klb', 1194, false, NULL),
  ('district_steam', 'CA', 'MMlb', 1194000, false, NULL),
  ('district_steam', 'CA', 'kg', 2.632, false, NULL),
  ('coal_anthracite', 'CA', 'short_ton', 23818, true, 'heat content 23.818 MBtu/ton'),
  ('coal_anthracite', 'CA', 'lb', 11.909, false, NULL),
  ('coal_anthracite', 'CA', 'klb', 11909, false, NULL),
  ('coal_anthracite', 'CA', 'MMlb', 11909055, false, NULL),
  ('coal_anthracite', 'CA', 'tonne', 26255, false, NULL),
  ('coal_bituminous', 'CA', 'short_ton', 21496, true, 'heat content 21.496 MBtu/ton'),
  ('coal_bituminous', 'CA', 'lb', 10.748, false, NULL),
  ('coal_bituminous', 'CA', 'klb', 10748, false, NULL),
  ('coal_bituminous', 'CA', 'MMlb', 10748245, false, NULL),
  ('coal_bituminous', 'CA', 'tonne', 23695, false, NULL),
  ('coke', 'CA', 'short_ton', 24790, true, 'heat content 24.79 MBtu/ton'),
  ('coke', 'CA', 'lb', 12.395, false, NULL),
  ('coke', 'CA', 'klb', 12395, false, NULL),
  ('coke', 'CA', 'MMlb', 12394876, false, NULL),
  ('coke', 'CA', 'tonne', 27326, false, NULL),
  ('wood', 'CA', 'short_ton', 15477, true, 'heat content 15.48 MBtu/ton'),
  ('wood', 'CA', 'tonne', 17061, false, NULL)
  ) AS h(fuel, country, per_unit, kbtu, reference, note);

-- ---- catalog triggers ----

-- Row changes send no cache invalidation by themselves: this one makes every
-- change reach each backend's units cache (src/units.c).  A row trigger:
-- logical replication apply fires row triggers only.
CREATE FUNCTION @extschema@.units_catalog_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'scaler_units_catalog_changed'
LANGUAGE C;

CREATE FUNCTION @extschema@.units_protect_builtin()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'cannot truncate %.%: it holds built-in rows', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Delete your own rows with DELETE ... WHERE NOT builtin.';
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.builtin THEN
    RAISE EXCEPTION 'built-in rows of %.% are read-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Built-in rows come with the extension, which recreates them on restore; pg_dump saves only your rows.',
            HINT = 'Insert your own row: in unit_alias and fuel_heat_content it takes precedence over the built-in row with the same key.';
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.builtin THEN
    RAISE EXCEPTION 'only the extension adds built-in rows to %.%', TG_TABLE_SCHEMA, TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Leave column "builtin" false: your rows are dumped by pg_dump.';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$;

-- Every trigger of the catalog is ENABLE ALWAYS: a logical replication
-- apply worker, or a session with session_replication_role = replica,
-- still invalidates the caches, protects the built-in rows and keeps the
-- key spaces.  (Publish these tables WHERE (NOT builtin): each side has
-- its built-in rows from the extension.)
DO $$
DECLARE
  t text;
  g name;
BEGIN
  FOREACH t IN ARRAY ARRAY['unit', 'unit_alias', 'fuel', 'fuel_alias', 'fuel_heat_content'] LOOP
    EXECUTE format('CREATE TRIGGER units_protect_builtin BEFORE UPDATE OR DELETE OR INSERT ON %I.%I '
                   'FOR EACH ROW EXECUTE FUNCTION %I.units_protect_builtin()', '@extschema@', t, '@extschema@');
    EXECUTE format('CREATE TRIGGER units_protect_truncate BEFORE TRUNCATE ON %I.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.units_protect_builtin()', '@extschema@', t, '@extschema@');
    EXECUTE format('CREATE TRIGGER units_catalog_changed AFTER INSERT OR UPDATE OR DELETE ON %I.%I '
                   'FOR EACH ROW EXECUTE FUNCTION %I.units_catalog_changed()', '@extschema@', t, '@extschema@');
    EXECUTE format('CREATE TRIGGER units_catalog_truncated AFTER TRUNCATE ON %I.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION %I.units_catalog_changed()', '@extschema@', t, '@extschema@');
    FOR g IN SELECT tgname FROM pg_catalog.pg_trigger
              WHERE tgrelid = format('%I.%I', '@extschema@', t)::regclass AND NOT tgisinternal LOOP
      EXECUTE format('ALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I', '@extschema@', t, g);
    END LOOP;
    EXECUTE format('SELECT pg_catalog.pg_extension_config_dump(%L, %L)',
                   '@extschema@.' || t, 'WHERE NOT builtin');
  END LOOP;
END
$$;

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.unit, @extschema@.unit_alias, @extschema@.fuel,
  @extschema@.fuel_alias, @extschema@.fuel_heat_content TO PUBLIC;

-- ---- functions ----

CREATE FUNCTION @extschema@.convert(value numeric, from_unit text, to_unit text,
                                    vocabulary text DEFAULT NULL)
RETURNS numeric
AS 'MODULE_PATHNAME', 'scaler_convert'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.normalize_unit(unit text, vocabulary text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'scaler_normalize_unit'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.espi_unit(uom integer, power_of_ten_multiplier integer DEFAULT 0,
                                      OUT unit text, OUT multiplier numeric)
AS 'MODULE_PATHNAME', 'scaler_espi_unit'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.convert_fuel(value numeric, from_unit text, to_unit text,
                                         fuel text DEFAULT NULL,
                                         country text DEFAULT 'US',
                                         calorific_value numeric DEFAULT NULL,
                                         calorific_value_unit text DEFAULT NULL,
                                         vocabulary text DEFAULT NULL)
RETURNS numeric
AS 'MODULE_PATHNAME', 'scaler_convert_fuel'
LANGUAGE C STABLE PARALLEL SAFE;

-- imperial_factor: m3 per hundred cubic feet on UK bills, 2.83 (exact is
-- 2.8316846592); docs/units.md
CREATE FUNCTION @extschema@.uk_gas_kwh(volume numeric, unit text, calorific_value numeric,
                                       volume_correction numeric DEFAULT 1.02264,
                                       imperial_factor numeric DEFAULT 2.83)
RETURNS numeric
AS 'MODULE_PATHNAME', 'scaler_uk_gas_kwh'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.register_consumption(read_times timestamptz[], readings numeric[],
                                                 rollover_at numeric DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, period_end timestamptz,
               reading_start numeric, reading_end numeric,
               consumption numeric, status text)
AS 'MODULE_PATHNAME', 'scaler_register_consumption'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 100;

COMMENT ON FUNCTION @extschema@.convert(numeric, text, text, text) IS
  'Exact conversion between units of one dimension; see docs/units.md';
COMMENT ON FUNCTION @extschema@.convert_fuel(numeric, text, text, text, text, numeric, text, text) IS
  'Fuel quantity to energy (or back) with a default heat content or a given calorific value';
COMMENT ON FUNCTION @extschema@.register_consumption(timestamptz[], numeric[], numeric) IS
  'Cumulative register readings to period consumption, with rollover, reset and negative flags';

-- ---- mapping provider assets and meters to Scaler (docs/mapping.md) ----
-- Rules live in the tables, so INSERT, COPY and the functions below obey
-- the same ones: exclusion constraints keep one mapping per external id and
-- day (and, for meters, one external meter per Scaler meter and day), even
-- under concurrent writers.  Validity is inclusive at both ends; NULL is
-- open.  Switching providers: the old mapping ends on X, the new starts X+1.

CREATE TABLE @extschema@.asset_mapping (
  mapping_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- a foreign server of scaler_fdw, by name so a dump restores it
  provider_server   text NOT NULL,
  external_asset_id text NOT NULL CHECK (external_asset_id <> ''),
  scaler_asset_id   text NOT NULL CHECK (scaler_asset_id <> ''),
  valid_from        date,
  valid_to          date,
  validity          daterange NOT NULL
                    GENERATED ALWAYS AS (daterange(valid_from, valid_to, '[]')) STORED,
  note              text,
  mapped_by         name NOT NULL DEFAULT current_user,
  mapped_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT asset_mapping_valid_order CHECK (valid_to >= valid_from),
  CONSTRAINT asset_mapping_one_per_day EXCLUDE USING gist
    (provider_server WITH =, external_asset_id WITH =, validity WITH &&)
);

CREATE TABLE @extschema@.meter_mapping (
  mapping_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  provider_server      text NOT NULL,
  external_meter_id    text NOT NULL CHECK (external_meter_id <> ''),
  scaler_meter_id      text NOT NULL CHECK (scaler_meter_id <> ''),
  valid_from           date,
  valid_to             date,
  validity             daterange NOT NULL
                       GENERATED ALWAYS AS (daterange(valid_from, valid_to, '[]')) STORED,
  -- readings are converted to this unit (else the Scaler meter's unit)
  target_unit          text REFERENCES @extschema@.unit ON UPDATE CASCADE,
  -- overrides for volume to energy: the fuel, and a calorific value from the
  -- meter's own bills, both passed to convert_fuel
  fuel                 text REFERENCES @extschema@.fuel ON UPDATE CASCADE,
  calorific_value      numeric CHECK (calorific_value > 0 AND calorific_value < 'Infinity'),
  calorific_value_unit text,
  note                 text,
  mapped_by            name NOT NULL DEFAULT current_user,
  mapped_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT meter_mapping_valid_order CHECK (valid_to >= valid_from),
  CONSTRAINT meter_mapping_calorific_value_unit
    CHECK ((calorific_value IS NULL) = (calorific_value_unit IS NULL)),
  CONSTRAINT meter_mapping_one_scaler_meter_per_day EXCLUDE USING gist
    (provider_server WITH =, external_meter_id WITH =, validity WITH &&),
  CONSTRAINT meter_mapping_one_external_meter_per_day EXCLUDE USING gist
    (scaler_meter_id WITH =, validity WITH &&)
);

-- Checks a constraint cannot express: the server exists and is ours; units
-- and fuels are known, stored in their canonical spelling.
CREATE FUNCTION @extschema@.mapping_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  wrapper name;
  canonical text;
  energy_unit text;
  per_unit text;
  kind text := CASE TG_TABLE_NAME WHEN 'meter_mapping' THEN 'meter' ELSE 'asset' END;
  changed jsonb := CASE TG_OP WHEN 'INSERT' THEN to_jsonb(NEW)
                   ELSE (SELECT coalesce(jsonb_object_agg(n.key, n.value), '{}')
                           FROM jsonb_each(to_jsonb(NEW)) n
                          WHERE n.value IS DISTINCT FROM to_jsonb(OLD) -> n.key) END;
BEGIN
  -- an open end is NULL: validity_text and the ranges read it so
  IF NEW.valid_from = '-infinity' THEN
    NEW.valid_from := NULL;
  END IF;
  IF NEW.valid_to = 'infinity' THEN
    NEW.valid_to := NULL;
  END IF;
  IF NOT isfinite(NEW.valid_from) OR NOT isfinite(NEW.valid_to) THEN
    RAISE EXCEPTION 'valid_from cannot be infinity and valid_to cannot be -infinity'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Leave an end NULL to keep it open.';
  END IF;
  IF NEW.valid_to < NEW.valid_from THEN
    RAISE EXCEPTION 'valid_to % is before valid_from %', to_char(NEW.valid_to, 'YYYY-MM-DD'),
                    to_char(NEW.valid_from, 'YYYY-MM-DD')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Validity includes both dates; a mapping of one day has valid_from = valid_to.';
  END IF;
  IF to_jsonb(NEW) ->> format('external_%s_id', kind) = ''
     OR to_jsonb(NEW) ->> format('scaler_%s_id', kind) = '' THEN
    RAISE EXCEPTION 'external_%_id and scaler_%_id must not be empty', kind, kind
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT changed ? 'provider_server' THEN
    wrapper := 'scaler_fdw';
  ELSE
    SELECT w.fdwname INTO wrapper
      FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
     WHERE s.srvname = NEW.provider_server;
  END IF;
  IF wrapper IS NULL THEN
    RAISE EXCEPTION 'server "%" does not exist', NEW.provider_server
      USING ERRCODE = 'undefined_object',
            HINT = 'provider_server names a foreign server of scaler_fdw (CREATE SERVER ... FOREIGN DATA WRAPPER scaler_fdw).';
  ELSIF wrapper <> 'scaler_fdw' THEN
    RAISE EXCEPTION 'server "%" is not a scaler_fdw server', NEW.provider_server
      USING ERRCODE = 'wrong_object_type',
            DETAIL = format('It uses foreign-data wrapper "%s".', wrapper);
  END IF;
  IF TG_TABLE_NAME = 'meter_mapping' THEN
    IF (NEW.calorific_value IS NULL) <> (NEW.calorific_value_unit IS NULL) THEN
      RAISE EXCEPTION 'calorific_value and calorific_value_unit go together'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'For example calorific_value => 39.5, calorific_value_unit => ''MJ/m3''.';
    END IF;
    IF NEW.target_unit IS NOT NULL AND changed ? 'target_unit' THEN
      NEW.target_unit := @extschema@.normalize_unit(NEW.target_unit);
    END IF;
    IF NOT (NEW.calorific_value > 0 AND NEW.calorific_value < 'Infinity') THEN
      RAISE EXCEPTION 'calorific_value % is not a positive number', NEW.calorific_value
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NEW.calorific_value_unit IS NOT NULL AND changed ? 'calorific_value_unit' THEN
      -- energy / volume or mass, as convert_fuel reads it
      IF NEW.calorific_value_unit !~ '^[^/]+/[^/]+$' THEN
        RAISE EXCEPTION 'calorific_value_unit "%" is not energy per volume or mass', NEW.calorific_value_unit
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Write it as energy/volume or energy/mass, such as MJ/m3 or Btu/ft3.';
      END IF;
      energy_unit := @extschema@.normalize_unit(split_part(NEW.calorific_value_unit, '/', 1));
      per_unit := @extschema@.normalize_unit(split_part(NEW.calorific_value_unit, '/', 2));
      IF (SELECT dimension FROM @extschema@.unit WHERE symbol = energy_unit) <> 'energy'
         OR (SELECT dimension FROM @extschema@.unit WHERE symbol = per_unit) NOT IN ('volume', 'mass') THEN
        RAISE EXCEPTION 'calorific_value_unit "%" is not energy per volume or mass', NEW.calorific_value_unit
          USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('"%s" measures %s and "%s" measures %s.', energy_unit,
                                (SELECT dimension FROM @extschema@.unit WHERE symbol = energy_unit),
                                per_unit,
                                (SELECT dimension FROM @extschema@.unit WHERE symbol = per_unit)),
                HINT = 'Write it as energy/volume or energy/mass, such as MJ/m3 or Btu/ft3.';
      END IF;
      NEW.calorific_value_unit := energy_unit || '/' || per_unit;
    END IF;
    IF NEW.fuel IS NOT NULL AND changed ? 'fuel' THEN
      SELECT f INTO canonical FROM (
        SELECT fuel AS f, builtin FROM @extschema@.fuel
         WHERE @extschema@.unit_key(fuel) = @extschema@.unit_key(NEW.fuel)
        UNION ALL
        SELECT fuel, builtin FROM @extschema@.fuel_alias
         WHERE @extschema@.unit_key(alias) = @extschema@.unit_key(NEW.fuel)) m
       ORDER BY builtin LIMIT 1;
      IF canonical IS NULL THEN
        RAISE EXCEPTION 'unknown fuel "%"', NEW.fuel
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Fuels are listed in scaler.fuel and scaler.fuel_alias.';
      END IF;
      NEW.fuel := canonical;
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER mapping_check BEFORE INSERT OR UPDATE ON @extschema@.asset_mapping
  FOR EACH ROW EXECUTE FUNCTION @extschema@.mapping_check();
CREATE TRIGGER mapping_check BEFORE INSERT OR UPDATE ON @extschema@.meter_mapping
  FOR EACH ROW EXECUTE FUNCTION @extschema@.mapping_check();

-- Mappings are users' data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.asset_mapping', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.asset_mapping_mapping_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.meter_mapping', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.meter_mapping_mapping_id_seq', '');
GRANT SELECT ON @extschema@.asset_mapping, @extschema@.meter_mapping TO PUBLIC;

-- "from 2024-01-01 to 2024-12-31", "from 2024-01-01 on", "until ...", "on every date"
CREATE FUNCTION @extschema@.validity_text(validity daterange)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE
  WHEN isempty(validity) THEN 'on no date'
  WHEN lower_inf(validity) AND upper_inf(validity) THEN 'on every date'
  WHEN upper_inf(validity) THEN format('from %s on', to_char(lower(validity), 'YYYY-MM-DD'))
  WHEN lower_inf(validity) THEN format('until %s', to_char(upper(validity) - 1, 'YYYY-MM-DD'))
  ELSE format('from %s to %s', to_char(lower(validity), 'YYYY-MM-DD'),
              to_char(upper(validity) - 1, 'YYYY-MM-DD'))
END;

-- The mapping of one kind that overlaps [valid_from, valid_to] on either
-- side's id, as an error that names it; the constraint stays the backstop
-- against concurrent writers.
CREATE FUNCTION @extschema@.mapping_conflict(kind text, provider_server text,
                                             external_id text, scaler_id text,
                                             valid_from date, valid_to date)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  wanted daterange;
  hint text;
BEGIN
  IF kind IS NULL OR kind NOT IN ('meter', 'asset') THEN
    RAISE EXCEPTION 'kind must be meter or asset' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF valid_to < valid_from OR NOT isfinite(valid_from) OR NOT isfinite(valid_to) THEN
    RETURN;  -- mapping_check says what is wrong
  END IF;
  wanted := daterange(valid_from, valid_to, '[]');
  IF kind = 'meter' THEN
    SELECT m.provider_server AS srv, m.external_meter_id AS ext, m.scaler_meter_id AS sid,
           m.validity, m.provider_server = $2 AND m.external_meter_id = $3 AS same_external
      INTO r FROM @extschema@.meter_mapping m
     WHERE m.validity && wanted
       AND ((m.provider_server = $2 AND m.external_meter_id = $3) OR m.scaler_meter_id = $4)
     ORDER BY lower(m.validity) NULLS FIRST LIMIT 1;
  ELSE
    SELECT m.provider_server AS srv, m.external_asset_id AS ext, m.scaler_asset_id AS sid,
           m.validity, true AS same_external
      INTO r FROM @extschema@.asset_mapping m
     WHERE m.validity && wanted AND m.provider_server = $2 AND m.external_asset_id = $3
     ORDER BY lower(m.validity) NULLS FIRST LIMIT 1;
  END IF;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- the mapping in the way starts later: this one can end the day before
  IF NOT lower_inf(r.validity) AND (valid_from IS NULL OR lower(r.validity) > valid_from) THEN
    hint := format('Let this mapping end the day before that one starts: valid_to => %L.',
                   to_char(lower(r.validity) - 1, 'YYYY-MM-DD'));
  ELSE
    hint := format('End that mapping first, e.g. SELECT scaler.unmap_%s(%L, %L, ends_on => date), and start this one the day after.',
                   kind, r.srv, r.ext);
  END IF;
  IF r.same_external THEN
    RAISE EXCEPTION 'external % "%" of server "%" is already mapped on some of these dates',
                    kind, external_id, provider_server
      USING ERRCODE = 'exclusion_violation',
            DETAIL = format('It is mapped to Scaler %s "%s" %s.', kind, r.sid,
                            @extschema@.validity_text(r.validity)),
            HINT = hint;
  ELSE
    RAISE EXCEPTION 'Scaler meter "%" already receives another external meter on some of these dates', scaler_id
      USING ERRCODE = 'exclusion_violation',
            DETAIL = format('External meter "%s" of server "%s" is mapped to it %s.', r.ext, r.srv,
                            @extschema@.validity_text(r.validity)),
            HINT = hint;
  END IF;
END
$$;

CREATE FUNCTION @extschema@.map_meter(provider_server text, external_meter_id text,
                                      scaler_meter_id text,
                                      valid_from date DEFAULT NULL, valid_to date DEFAULT NULL,
                                      target_unit text DEFAULT NULL, fuel text DEFAULT NULL,
                                      calorific_value numeric DEFAULT NULL,
                                      calorific_value_unit text DEFAULT NULL,
                                      note text DEFAULT NULL)
RETURNS @extschema@.meter_mapping
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  result @extschema@.meter_mapping;
BEGIN
  IF provider_server IS NULL OR external_meter_id IS NULL OR scaler_meter_id IS NULL THEN
    RAISE EXCEPTION 'provider_server, external_meter_id and scaler_meter_id must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM @extschema@.scaler_id_check('meter', scaler_meter_id, target_unit);
  PERFORM @extschema@.mapping_conflict('meter', provider_server, external_meter_id,
                                       scaler_meter_id, valid_from, valid_to);
  INSERT INTO @extschema@.meter_mapping AS m
         (provider_server, external_meter_id, scaler_meter_id, valid_from, valid_to,
          target_unit, fuel, calorific_value, calorific_value_unit, note)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  RETURNING m.* INTO result;
  RETURN result;
END
$$;

CREATE FUNCTION @extschema@.map_asset(provider_server text, external_asset_id text,
                                      scaler_asset_id text,
                                      valid_from date DEFAULT NULL, valid_to date DEFAULT NULL,
                                      note text DEFAULT NULL)
RETURNS @extschema@.asset_mapping
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  result @extschema@.asset_mapping;
BEGIN
  IF provider_server IS NULL OR external_asset_id IS NULL OR scaler_asset_id IS NULL THEN
    RAISE EXCEPTION 'provider_server, external_asset_id and scaler_asset_id must not be null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM @extschema@.scaler_id_check('asset', scaler_asset_id);
  PERFORM @extschema@.mapping_conflict('asset', provider_server, external_asset_id,
                                       scaler_asset_id, valid_from, valid_to);
  INSERT INTO @extschema@.asset_mapping AS m
         (provider_server, external_asset_id, scaler_asset_id, valid_from, valid_to, note)
  VALUES ($1, $2, $3, $4, $5, $6)
  RETURNING m.* INTO result;
  RETURN result;
END
$$;

-- Without ends_on: every mapping of the external id goes, as if it had never
-- been mapped.  With it: the mapping valid on that date ends on it (history
-- kept, later mappings untouched).  Returns how many mappings changed.
CREATE FUNCTION @extschema@.unmap(kind text, provider_server text, external_id text,
                                  ends_on date)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tbl regclass := CASE kind WHEN 'meter' THEN '@extschema@.meter_mapping'::regclass
                            ELSE '@extschema@.asset_mapping'::regclass END;
  id_column text := format('external_%s_id', kind);
  changed integer;
BEGIN
  IF kind IS NULL OR kind NOT IN ('meter', 'asset') THEN
    RAISE EXCEPTION 'kind must be meter or asset' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF provider_server IS NULL OR external_id IS NULL THEN
    RAISE EXCEPTION 'provider_server and external_%_id must not be null', kind
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF ends_on IS NULL THEN
    EXECUTE format('DELETE FROM %s WHERE provider_server = $1 AND %I = $2', tbl, id_column)
      USING provider_server, external_id;
  ELSE
    EXECUTE format('UPDATE %s SET valid_to = $3 WHERE provider_server = $1 AND %I = $2 AND validity @> $3',
                   tbl, id_column)
      USING provider_server, external_id, ends_on;
  END IF;
  GET DIAGNOSTICS changed = ROW_COUNT;
  IF changed = 0 THEN
    RAISE EXCEPTION 'external % "%" of server "%" has no mapping%', kind, external_id, provider_server,
                    CASE WHEN ends_on IS NULL THEN ''
                         ELSE format(' valid on %s', to_char(ends_on, 'YYYY-MM-DD')) END
      USING ERRCODE = 'no_data_found',
            HINT = format('scaler.%s_mapping lists the mappings.', kind);
  END IF;
  RETURN changed;
END
$$;

CREATE FUNCTION @extschema@.unmap_meter(provider_server text, external_meter_id text,
                                        ends_on date DEFAULT NULL)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN @extschema@.unmap('meter', provider_server, external_meter_id, ends_on);

CREATE FUNCTION @extschema@.unmap_asset(provider_server text, external_asset_id text,
                                        ends_on date DEFAULT NULL)
RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN @extschema@.unmap('asset', provider_server, external_asset_id, ends_on);

-- A mapping names its server: dropping that server is refused while
-- mappings name it, and a renamed server takes its mappings along, so no
-- mapping ever names a server that is not there (a dump could not restore it).
CREATE FUNCTION @extschema@.mapping_server_dropped()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  srv text;
  n bigint;
BEGIN
  FOR srv IN SELECT d.address_names[1] FROM pg_event_trigger_dropped_objects() d
              WHERE d.object_type = 'server'
  LOOP
    n := (SELECT count(*) FROM @extschema@.meter_mapping WHERE provider_server = srv)
       + (SELECT count(*) FROM @extschema@.asset_mapping WHERE provider_server = srv);
    IF n > 0 THEN
      RAISE EXCEPTION 'cannot drop server "%" because % mappings name it', srv, n
        USING ERRCODE = 'dependent_objects_still_exist',
              HINT = format('Remove them first: DELETE FROM scaler.meter_mapping WHERE provider_server = %L; and the same for scaler.asset_mapping.', srv);
    END IF;
  END LOOP;
END
$$;

CREATE FUNCTION @extschema@.mapping_server_renamed()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_name text;
  old_names text[];
BEGIN
  SELECT array_agg(DISTINCT m.provider_server) INTO old_names
    FROM (SELECT provider_server FROM @extschema@.meter_mapping
          UNION ALL SELECT provider_server FROM @extschema@.asset_mapping) m
   WHERE NOT EXISTS (SELECT FROM pg_foreign_server s WHERE s.srvname = m.provider_server);
  IF old_names IS NULL THEN
    RETURN;                     -- not a rename of a mapped server
  END IF;
  SELECT s.srvname INTO new_name
    FROM pg_event_trigger_ddl_commands() c JOIN pg_foreign_server s ON s.oid = c.objid
   WHERE c.object_type = 'server';
  IF new_name IS NULL OR cardinality(old_names) > 1 THEN
    RAISE EXCEPTION 'mappings name servers that do not exist: %', array_to_string(old_names, ', ')
      USING ERRCODE = 'undefined_object',
            HINT = 'Point them at an existing server with UPDATE scaler.meter_mapping / scaler.asset_mapping SET provider_server = ...';
  END IF;
  -- the trigger's server check passes: the new name exists
  UPDATE @extschema@.meter_mapping SET provider_server = new_name WHERE provider_server = old_names[1];
  UPDATE @extschema@.asset_mapping SET provider_server = new_name WHERE provider_server = old_names[1];
END
$$;

CREATE EVENT TRIGGER scaler_fdw_mapping_server_dropped ON sql_drop
  WHEN TAG IN ('DROP SERVER', 'DROP OWNED')
  EXECUTE FUNCTION @extschema@.mapping_server_dropped();
CREATE EVENT TRIGGER scaler_fdw_mapping_server_renamed ON ddl_command_end
  WHEN TAG IN ('ALTER SERVER')
  EXECUTE FUNCTION @extschema@.mapping_server_renamed();

-- ---- the Scaler catalog: Scaler's assets and meters, as last listed ----
-- Filled from foreign tables of a server with provider 'scaler' (or any
-- relation with the same columns) by refresh_scaler_catalog.  Once it holds
-- rows, map_meter and map_asset take only Scaler ids in it.  An id Scaler
-- stops listing stays (listed = false): mappings may still name it, new
-- ones may not.

CREATE TABLE @extschema@.scaler_asset (
  asset_id     text PRIMARY KEY,
  name         text,
  address      text,
  city         text,
  postcode     text,
  country      text,
  portfolio_id text,
  listed       boolean NOT NULL DEFAULT true,
  refreshed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE @extschema@.scaler_meter (
  meter_id     text PRIMARY KEY,
  asset_id     text,
  name         text,
  resource     text,
  unit         text,
  meter_code   text,
  listed       boolean NOT NULL DEFAULT true,
  refreshed_at timestamptz NOT NULL DEFAULT now()
);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.scaler_asset', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.scaler_meter', '');
GRANT SELECT ON @extschema@.scaler_asset, @extschema@.scaler_meter TO PUBLIC;

-- Whether a relation has a column: the functions below take users' tables.
CREATE FUNCTION @extschema@.has_column(rel regclass, col text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
                AND a.attnum > 0 AND NOT a.attisdropped);

-- 42703 naming every column of cols that rel lacks, with the caller's hint.
CREATE FUNCTION @extschema@.require_columns(rel regclass, cols text[], hint text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  missing text := (SELECT string_agg(c, ', ' ORDER BY o) FROM unnest(cols) WITH ORDINALITY u(c, o)
                    WHERE NOT @extschema@.has_column(rel, c));
BEGIN
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION '% has no column %', rel, missing
      USING ERRCODE = 'undefined_column', HINT = hint;
  END IF;
END
$$;

CREATE FUNCTION @extschema@.refresh_scaler_catalog(meters regclass, assets regclass DEFAULT NULL)
RETURNS TABLE (kind text, listed bigint, added bigint, delisted bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started timestamptz := clock_timestamp();
  source regclass;
  needed text[];
  n_listed bigint;
  n_added bigint;
  n_delisted bigint;
BEGIN
  FOREACH kind IN ARRAY ARRAY['asset', 'meter'] LOOP
    source := CASE kind WHEN 'meter' THEN meters ELSE assets END;
    CONTINUE WHEN source IS NULL;
    needed := CASE kind WHEN 'meter' THEN ARRAY['meter_id', 'asset_id', 'name', 'resource', 'unit', 'meter_code']
                        ELSE ARRAY['asset_id', 'name', 'address', 'city', 'postcode', 'country', 'portfolio_id'] END;
    PERFORM @extschema@.require_columns(source, needed,
      'Pass the tables of a server with provider ''scaler'': IMPORT FOREIGN SCHEMA scaler FROM SERVER ... INTO ...');
    IF kind = 'meter' THEN
      EXECUTE format($q$
        WITH src AS (SELECT DISTINCT ON (meter_id) meter_id::text, asset_id::text, name::text,
                            resource::text, unit::text, meter_code::text
                       FROM %s WHERE meter_id IS NOT NULL)
        , ins AS (INSERT INTO @extschema@.scaler_meter AS t
               (meter_id, asset_id, name, resource, unit, meter_code, listed, refreshed_at)
        SELECT *, true, $1 FROM src
        ON CONFLICT (meter_id) DO UPDATE
          SET asset_id = excluded.asset_id, name = excluded.name, resource = excluded.resource,
              unit = excluded.unit, meter_code = excluded.meter_code, listed = true,
              refreshed_at = excluded.refreshed_at
        RETURNING (xmax = 0) AS inserted)
        SELECT count(*), count(*) FILTER (WHERE inserted) FROM ins$q$, source)
        USING started INTO n_listed, n_added;
    ELSE
      EXECUTE format($q$
        WITH src AS (SELECT DISTINCT ON (asset_id) asset_id::text, name::text, address::text, city::text,
                            postcode::text, country::text, portfolio_id::text
                       FROM %s WHERE asset_id IS NOT NULL)
        , ins AS (INSERT INTO @extschema@.scaler_asset AS t
               (asset_id, name, address, city, postcode, country, portfolio_id, listed, refreshed_at)
        SELECT *, true, $1 FROM src
        ON CONFLICT (asset_id) DO UPDATE
          SET name = excluded.name, address = excluded.address, city = excluded.city,
              postcode = excluded.postcode, country = excluded.country,
              portfolio_id = excluded.portfolio_id, listed = true, refreshed_at = excluded.refreshed_at
        RETURNING (xmax = 0) AS inserted)
        SELECT count(*), count(*) FILTER (WHERE inserted) FROM ins$q$, source)
        USING started INTO n_listed, n_added;
    END IF;
    EXECUTE format('UPDATE %I.%I SET listed = false WHERE listed AND refreshed_at < $1',
                   '@extschema@', 'scaler_' || kind) USING started;
    GET DIAGNOSTICS n_delisted = ROW_COUNT;
    listed := n_listed;
    added := n_added;
    delisted := n_delisted;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Scaler ids checked against the Scaler catalog, by the map functions (and
-- the worksheet import): direct writes are not, so that a restore or a load
-- of history never depends on what the catalog holds at that moment.
CREATE FUNCTION @extschema@.scaler_id_check(kind text, scaler_id text, target_unit text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  catalog_loaded boolean;
  known boolean;
  still_listed boolean;
  scaler_unit text;
BEGIN
  IF kind = 'meter' THEN
    catalog_loaded := EXISTS (SELECT FROM @extschema@.scaler_meter);
    SELECT true, m.listed, m.unit INTO known, still_listed, scaler_unit
      FROM @extschema@.scaler_meter m WHERE m.meter_id = scaler_id;
  ELSE
    catalog_loaded := EXISTS (SELECT FROM @extschema@.scaler_asset);
    SELECT true, a.listed INTO known, still_listed
      FROM @extschema@.scaler_asset a WHERE a.asset_id = scaler_id;
  END IF;
  IF NOT catalog_loaded THEN
    RETURN;                     -- nothing to check against yet
  END IF;
  IF known IS NULL THEN
    RAISE EXCEPTION 'Scaler % "%" is not in the Scaler catalog', kind, scaler_id
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('scaler.scaler_%s holds the %ss Scaler listed at the last refresh.', kind, kind),
            HINT = 'Check the id, or refresh the catalog: SELECT * FROM scaler.refresh_scaler_catalog(meters => ..., assets => ...).';
  END IF;
  IF NOT still_listed THEN
    RAISE EXCEPTION 'Scaler no longer lists % "%"', kind, scaler_id
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = 'It was missing from the last refresh of the Scaler catalog; mappings already naming it stay.',
            HINT = format('Map to a %s Scaler lists, or refresh the catalog if it is back.', kind);
  END IF;
  -- the target unit measures what the Scaler meter measures
  IF target_unit IS NOT NULL AND scaler_unit IS NOT NULL THEN
    target_unit := @extschema@.normalize_unit(target_unit);
    BEGIN
      scaler_unit := @extschema@.normalize_unit(scaler_unit);
    EXCEPTION WHEN invalid_parameter_value THEN
      RETURN;                   -- a unit we cannot read decides nothing
    END;
    IF (SELECT dimension FROM @extschema@.unit WHERE symbol = scaler_unit)
       <> (SELECT dimension FROM @extschema@.unit WHERE symbol = target_unit) THEN
      RAISE EXCEPTION 'target unit "%" does not measure what Scaler meter "%" measures', target_unit, scaler_id
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('"%s" measures %s; the Scaler meter''s unit "%s" measures %s.', target_unit,
                              (SELECT dimension FROM @extschema@.unit WHERE symbol = target_unit),
                              scaler_unit,
                              (SELECT dimension FROM @extschema@.unit WHERE symbol = scaler_unit)),
              HINT = 'Check that the external meter and the Scaler meter measure the same resource.';
    END IF;
  END IF;
END
$$;

-- ---- suggestions: provider meters against the Scaler catalog ----

-- Abbreviations providers write, expanded before names and addresses are
-- compared; users add their own rows.
CREATE TABLE @extschema@.match_abbreviation (
  abbreviation text PRIMARY KEY CHECK (abbreviation ~ '^[a-z0-9]+$'),
  word         text NOT NULL CHECK (word ~ '^[a-z0-9 ]+$'),
  builtin      boolean NOT NULL DEFAULT false
);
INSERT INTO @extschema@.match_abbreviation (abbreviation, word, builtin) VALUES
  ('st', 'street', true), ('str', 'street', true), ('rd', 'road', true), ('ave', 'avenue', true),
  ('av', 'avenue', true), ('blvd', 'boulevard', true), ('ln', 'lane', true), ('dr', 'drive', true),
  ('sq', 'square', true), ('pl', 'place', true), ('ct', 'court', true), ('hwy', 'highway', true),
  ('bldg', 'building', true), ('bld', 'building', true), ('wks', 'works', true), ('ctr', 'centre', true),
  ('center', 'centre', true), ('twr', 'tower', true), ('hse', 'house', true), ('pk', 'park', true),
  ('elec', 'electricity', true), ('electric', 'electricity', true), ('elect', 'electricity', true),
  ('mtr', 'meter', true), ('ng', 'natural gas', true), ('wtr', 'water', true),
  ('htg', 'heating', true), ('dh', 'district heating', true), ('no', 'number', true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.match_abbreviation', 'WHERE NOT builtin');
GRANT SELECT ON @extschema@.match_abbreviation TO PUBLIC;

-- The comparison key of a name or address: lower case, punctuation and
-- leading zeros gone, abbreviations expanded, words sorted (so reordered
-- address parts compare equal).
CREATE FUNCTION @extschema@.match_key(value text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(coalesce(a.word, w.word), ' ' ORDER BY coalesce(a.word, w.word))
          FROM regexp_split_to_table(regexp_replace(regexp_replace(lower(value), '[^a-z0-9]+', ' ', 'g'),
                                                    '(^| )0+([0-9])', '\1\2', 'g'), ' ') AS w(word)
          LEFT JOIN @extschema@.match_abbreviation a ON a.abbreviation = w.word
         WHERE w.word <> '');

-- An identifier compared: case, punctuation and leading zeros ignored.
CREATE FUNCTION @extschema@.match_id(value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN nullif(regexp_replace(regexp_replace(upper(value), '[^A-Z0-9]+', '', 'g'), '^0+', ''), '');

-- An identifier distinctive enough to decide a match alone: at least five
-- characters with a letter, or eight digits ("1" or "0042" is not).
CREATE FUNCTION @extschema@.match_distinctive_id(value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT x.k FROM (SELECT @extschema@.match_id(value) AS k) x
         WHERE length(x.k) >= 8 OR (length(x.k) >= 5 AND x.k ~ '[A-Z]'));

-- Ranks Scaler meters for each provider meter: the same id or serial number
-- decides; otherwise name and address similarity (pg_trgm) on match keys,
-- among meters of the same resource.
CREATE FUNCTION @extschema@.suggest_meter_mappings(provider_meters regclass,
                                                   provider_assets regclass DEFAULT NULL,
                                                   candidates integer DEFAULT 3,
                                                   min_score numeric DEFAULT 0.5)
RETURNS TABLE (external_meter_id text, external_name text, rank integer,
               scaler_meter_id text, scaler_name text, score numeric, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  trgm name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                 WHERE e.extname = 'pg_trgm');
  col text;
  meter_cols text := '';
  asset_join text := '';
  asset_cols text := 'NULL::text AS address';
BEGIN
  IF candidates IS NULL OR candidates < 1 THEN
    RAISE EXCEPTION 'candidates must be at least 1' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT FROM @extschema@.scaler_meter WHERE listed) THEN
    RAISE EXCEPTION 'the Scaler catalog is empty'
      USING ERRCODE = 'no_data_found',
            HINT = 'Load it first: SELECT * FROM scaler.refresh_scaler_catalog(meters => ..., assets => ...).';
  END IF;
  FOREACH col IN ARRAY ARRAY['meter_id', 'name', 'serial_number', 'resource', 'asset_id'] LOOP
    IF @extschema@.has_column(provider_meters, col) THEN
      meter_cols := meter_cols || format(', p.%I::text AS %I', col, col);
    ELSIF col IN ('meter_id', 'name') THEN
      RAISE EXCEPTION '% has no column %', provider_meters, col
        USING ERRCODE = 'undefined_column',
              HINT = 'Pass a provider''s meters table (meter_id, name, and serial_number, resource, asset_id where it has them).';
    ELSE
      meter_cols := meter_cols || format(', NULL::text AS %I', col);
    END IF;
  END LOOP;
  IF provider_assets IS NOT NULL THEN
    asset_join := format('LEFT JOIN %s pa ON pa.asset_id::text = p.asset_id::text', provider_assets);
    asset_cols := 'concat_ws('' '', pa.name, pa.address, pa.city, pa.postcode) AS address';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH ext AS MATERIALIZED (
      SELECT x.*, @extschema@.match_key(x.name) AS name_key, @extschema@.match_key(x.address) AS address_key,
             @extschema@.match_distinctive_id(x.meter_id) AS id_key,
             @extschema@.match_distinctive_id(x.serial_number) AS serial_key
        FROM (SELECT %1$s, %2$s FROM %3$s p %4$s) x),
    sc AS MATERIALIZED (
      SELECT m.meter_id, m.name, m.resource, @extschema@.match_id(m.meter_code) AS code_key,
             @extschema@.match_key(m.name) AS name_key,
             @extschema@.match_key(concat_ws(' ', a.name, a.address, a.city, a.postcode)) AS address_key
        FROM @extschema@.scaler_meter m LEFT JOIN @extschema@.scaler_asset a ON a.asset_id = m.asset_id
       WHERE m.listed
         AND NOT EXISTS (SELECT FROM @extschema@.meter_mapping mm
                          WHERE mm.scaler_meter_id = m.meter_id AND mm.validity @> current_date)),
    scored AS (
      SELECT e.meter_id AS ext_id, e.name AS ext_name, s.meter_id AS sid, s.name AS sname,
             round(CASE
               WHEN e.id_key IS NOT NULL AND e.id_key = s.code_key THEN 1
               WHEN e.serial_key IS NOT NULL AND e.serial_key = s.code_key THEN 0.98
               ELSE (CASE WHEN e.address_key IS NULL OR s.address_key IS NULL
                                THEN %5$I.similarity(e.name_key, s.name_key)
                                ELSE 0.6 * %5$I.similarity(e.name_key, s.name_key)
                                   + 0.4 * %5$I.similarity(e.address_key, s.address_key) END)::numeric
             END, 3) AS score,
             CASE
               WHEN e.id_key IS NOT NULL AND e.id_key = s.code_key THEN 'meter id is the Scaler meter code'
               WHEN e.serial_key IS NOT NULL AND e.serial_key = s.code_key THEN 'serial number is the Scaler meter code'
               WHEN e.address_key IS NULL OR s.address_key IS NULL THEN 'similar name'
               ELSE 'similar name and address'
             END || CASE WHEN e.resource = s.resource THEN ', same resource' ELSE '' END AS reason
        FROM ext e JOIN sc s
          ON e.resource IS NULL OR s.resource IS NULL OR e.resource = s.resource),
    ranked AS (
      SELECT *, row_number() OVER (PARTITION BY ext_id ORDER BY score DESC, sid) AS r
        FROM scored WHERE score >= $1)
    SELECT ext_id, ext_name, r::integer, sid, sname, score, reason
      FROM ranked WHERE r <= $2 ORDER BY ext_id, r$q$,
    substr(meter_cols, 3), asset_cols, provider_meters, asset_join, trgm)
  USING min_score, candidates;
END
$$;

-- ---- the mapping worksheet: suggestions out as CSV, decisions back in ----

-- The worksheet's columns, in the CSV's order: a template for the staging
-- table COPY fills (CREATE TEMP TABLE ws (LIKE scaler.mapping_worksheet_row)).
CREATE TABLE @extschema@.mapping_worksheet_row (
  provider_server           text,
  external_meter_id         text,
  external_name             text,
  resource                  text,
  suggested_scaler_meter_id text,
  suggested_scaler_name     text,
  score                     numeric,
  reason                    text,
  -- filled in by people: map (the Scaler meter below, else the suggested one) or skip
  decision                  text,
  scaler_meter_id           text,
  valid_from                date,
  valid_to                  date,
  target_unit               text,
  note                      text
);
GRANT SELECT ON @extschema@.mapping_worksheet_row TO PUBLIC;

-- One row per provider meter with no mapping today, with its best suggestion.
CREATE FUNCTION @extschema@.mapping_worksheet(provider_server text, provider_meters regclass,
                                              provider_assets regclass DEFAULT NULL)
RETURNS SETOF @extschema@.mapping_worksheet_row
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  has_resource boolean := @extschema@.has_column(provider_meters, 'resource');
BEGIN
  IF NOT EXISTS (SELECT FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                  WHERE s.srvname = provider_server AND w.fdwname = 'scaler_fdw') THEN
    RAISE EXCEPTION 'server "%" is not a scaler_fdw server', provider_server
      USING ERRCODE = 'undefined_object',
            HINT = 'provider_server names the foreign server the provider meters come from.';
  END IF;
  RETURN QUERY EXECUTE format($q$
    SELECT $1, p.meter_id::text, p.name::text, %s, s.scaler_meter_id, s.scaler_name, s.score, s.reason,
           NULL::text, NULL::text, NULL::date, NULL::date, NULL::text, NULL::text
      FROM %s p
      LEFT JOIN @extschema@.suggest_meter_mappings($2, $3, 1) s ON s.external_meter_id = p.meter_id::text
     WHERE NOT EXISTS (SELECT FROM @extschema@.meter_mapping m
                        WHERE m.provider_server = $1 AND m.external_meter_id = p.meter_id::text
                          AND m.validity @> current_date)
     ORDER BY s.score DESC NULLS LAST, p.meter_id::text$q$,
    CASE WHEN has_resource THEN 'p.resource::text' ELSE 'NULL::text' END, provider_meters)
  USING provider_server, provider_meters, provider_assets;
END
$$;

-- Every problem of a filled worksheet, by row (the header is row 1; rows
-- count in the order COPY stored them, so check right after COPY; a quoted
-- value with line breaks makes a row longer than a line).
-- The rows it will import are left in pg_temp.scaler_worksheet_rows.
CREATE FUNCTION @extschema@.check_mapping_worksheet(worksheet regclass)
RETURNS TABLE (line bigint, problem text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  canonical text;
  catalog_loaded boolean := EXISTS (SELECT FROM @extschema@.scaler_meter);
BEGIN
  -- the columns it reads: all of the worksheet's but the informative ones
  PERFORM @extschema@.require_columns(worksheet,
    ARRAY(SELECT t.attname::text FROM pg_attribute t
           WHERE t.attrelid = '@extschema@.mapping_worksheet_row'::regclass AND t.attnum > 0
             AND NOT t.attisdropped
             AND t.attname NOT IN ('external_name', 'score', 'reason', 'suggested_scaler_name')
           ORDER BY t.attnum),
    'Read the worksheet into a table made with CREATE TEMP TABLE ... (LIKE scaler.mapping_worksheet_row).');
  IF to_regclass('pg_temp.scaler_worksheet_rows') IS NOT NULL THEN
    DROP TABLE pg_temp.scaler_worksheet_rows;
  END IF;
  EXECUTE format($q$
    CREATE TEMP TABLE scaler_worksheet_rows AS
    SELECT row_number() OVER (ORDER BY w.ctid) + 1 AS line,
           nullif(btrim(w.provider_server), '') AS provider_server,
           nullif(btrim(w.external_meter_id), '') AS external_meter_id,
           nullif(btrim(w.resource), '') AS resource,
           lower(coalesce(btrim(w.decision), '')) AS decision,
           coalesce(nullif(btrim(w.scaler_meter_id), ''), nullif(btrim(w.suggested_scaler_meter_id), ''))
             AS scaler_meter_id,
           nullif(btrim(w.scaler_meter_id), '') AS chosen_scaler_meter_id,
           w.valid_from, w.valid_to,
           nullif(btrim(w.target_unit), '') AS target_unit,
           nullif(w.note, '') AS note,
           CASE WHEN w.valid_to < w.valid_from THEN NULL
                ELSE daterange(w.valid_from, w.valid_to, '[]') END AS validity
      FROM %s w$q$, worksheet);

  RETURN QUERY
  SELECT w.line, format('decision "%s" is neither map nor skip', w.decision)
    FROM scaler_worksheet_rows w WHERE w.decision NOT IN ('map', 'skip', '');
  RETURN QUERY
  SELECT w.line, 'scaler_meter_id is filled in but decision is empty (map or skip?)'
    FROM scaler_worksheet_rows w WHERE w.decision = '' AND w.chosen_scaler_meter_id IS NOT NULL;
  DELETE FROM scaler_worksheet_rows w WHERE w.decision <> 'map';

  RETURN QUERY
  SELECT w.line, p.problem
    FROM scaler_worksheet_rows w
    LEFT JOIN pg_foreign_server s ON s.srvname = w.provider_server
    LEFT JOIN pg_foreign_data_wrapper f ON f.oid = s.srvfdw
    CROSS JOIN LATERAL (VALUES
      (CASE WHEN w.provider_server IS NULL THEN 'provider_server is empty'
            WHEN s.oid IS NULL THEN format('server "%s" does not exist', w.provider_server)
            WHEN f.fdwname <> 'scaler_fdw' THEN format('server "%s" is not a scaler_fdw server', w.provider_server)
       END),
      (CASE WHEN w.external_meter_id IS NULL THEN 'external_meter_id is empty' END),
      (CASE WHEN w.scaler_meter_id IS NULL THEN 'decision is map but there is no Scaler meter (scaler_meter_id is empty and nothing was suggested)' END),
      (CASE WHEN NOT isfinite(w.valid_from) AND w.valid_from > '2000-01-01' THEN 'valid_from is infinity'
            WHEN NOT isfinite(w.valid_to) AND w.valid_to < '2000-01-01' THEN 'valid_to is -infinity' END),
      (CASE WHEN w.validity IS NULL THEN format('valid_to %s is before valid_from %s',
                                                to_char(w.valid_to, 'YYYY-MM-DD'),
                                                to_char(w.valid_from, 'YYYY-MM-DD')) END)
    ) p(problem)
   WHERE p.problem IS NOT NULL;

  IF catalog_loaded THEN
    RETURN QUERY
    SELECT w.line,
           CASE WHEN m.meter_id IS NULL THEN format('Scaler meter "%s" is not in the Scaler catalog', w.scaler_meter_id)
                WHEN NOT m.listed THEN format('Scaler no longer lists meter "%s"', w.scaler_meter_id)
                ELSE format('a %s meter cannot map to Scaler meter "%s", which measures %s',
                            w.resource, w.scaler_meter_id, m.resource) END
      FROM scaler_worksheet_rows w
      LEFT JOIN @extschema@.scaler_meter m ON m.meter_id = w.scaler_meter_id
     WHERE w.scaler_meter_id IS NOT NULL
       AND (m.meter_id IS NULL OR NOT m.listed
            OR (w.resource IS NOT NULL AND m.resource IS NOT NULL AND w.resource <> m.resource));
  END IF;

  -- units: each spelling once, with the error normalize_unit gives
  FOR r IN SELECT DISTINCT w.target_unit FROM scaler_worksheet_rows w WHERE w.target_unit IS NOT NULL LOOP
    BEGIN
      canonical := @extschema@.normalize_unit(r.target_unit);
      UPDATE scaler_worksheet_rows w SET target_unit = canonical WHERE w.target_unit = r.target_unit;
    EXCEPTION WHEN invalid_parameter_value THEN
      RETURN QUERY SELECT w.line, format('target_unit "%s" is not a known unit', w.target_unit)
                     FROM scaler_worksheet_rows w WHERE w.target_unit = r.target_unit;
      UPDATE scaler_worksheet_rows w SET target_unit = NULL WHERE w.target_unit = r.target_unit;
    END;
  END LOOP;
  IF catalog_loaded THEN
    FOR r IN SELECT w.line, w.target_unit, w.scaler_meter_id FROM scaler_worksheet_rows w
              WHERE w.target_unit IS NOT NULL LOOP
      BEGIN
        PERFORM @extschema@.scaler_id_check('meter', r.scaler_meter_id, r.target_unit);
      EXCEPTION WHEN invalid_parameter_value THEN
        line := r.line;
        problem := format('target_unit "%s" does not measure what Scaler meter "%s" measures',
                          r.target_unit, r.scaler_meter_id);
        RETURN NEXT;
      WHEN foreign_key_violation THEN
        NULL;                   -- reported above
      END;
    END LOOP;
  END IF;

  -- duplicates within the sheet, on either side, on overlapping dates
  RETURN QUERY
  SELECT b.line, format('external meter "%s" of server "%s" is also mapped on row %s on some of the same dates',
                        b.external_meter_id, b.provider_server, a.line)
    FROM scaler_worksheet_rows a JOIN scaler_worksheet_rows b
      ON a.line < b.line AND a.provider_server = b.provider_server
     AND a.external_meter_id = b.external_meter_id AND a.validity && b.validity;
  RETURN QUERY
  SELECT b.line, format('Scaler meter "%s" also receives row %s''s meter on some of the same dates',
                        b.scaler_meter_id, a.line)
    FROM scaler_worksheet_rows a JOIN scaler_worksheet_rows b
      ON a.line < b.line AND a.scaler_meter_id = b.scaler_meter_id AND a.validity && b.validity;

  -- against mappings already there
  RETURN QUERY
  SELECT w.line, format('external meter "%s" of server "%s" is already mapped to Scaler meter "%s" %s',
                        w.external_meter_id, w.provider_server, m.scaler_meter_id,
                        @extschema@.validity_text(m.validity))
    FROM scaler_worksheet_rows w JOIN @extschema@.meter_mapping m
      ON m.provider_server = w.provider_server AND m.external_meter_id = w.external_meter_id
     AND m.validity && w.validity;
  RETURN QUERY
  SELECT w.line, format('Scaler meter "%s" already receives external meter "%s" of server "%s" %s',
                        w.scaler_meter_id, m.external_meter_id, m.provider_server,
                        @extschema@.validity_text(m.validity))
    FROM scaler_worksheet_rows w JOIN @extschema@.meter_mapping m
      ON m.scaler_meter_id = w.scaler_meter_id AND m.validity && w.validity
     AND NOT (m.provider_server = w.provider_server AND m.external_meter_id = w.external_meter_id);
END
$$;

-- Imports a filled worksheet all or nothing: any problem and no mapping is
-- written; the error lists every problem by line.
CREATE FUNCTION @extschema@.import_mapping_worksheet(worksheet regclass)
RETURNS TABLE (line bigint, external_meter_id text, scaler_meter_id text, validity daterange)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n bigint;
  listing text;
BEGIN
  -- the first 50 in the message; check_mapping_worksheet lists them all
  SELECT count(*),
         string_agg(format('row %s: %s', c.line, c.problem), E'\n' ORDER BY c.n) FILTER (WHERE c.n <= 50)
         || CASE WHEN count(*) > 50 THEN format(E'\n... and %s more', count(*) - 50) ELSE '' END
    INTO n, listing
    FROM (SELECT k.*, row_number() OVER (ORDER BY k.line, k.problem) AS n
            FROM @extschema@.check_mapping_worksheet(worksheet) k) c;
  IF n > 0 THEN
    RAISE EXCEPTION 'the mapping worksheet has % problem%; nothing was imported', n,
                    CASE WHEN n = 1 THEN '' ELSE 's' END
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = listing,
            HINT = format('SELECT * FROM scaler.check_mapping_worksheet(%L) lists them as rows.', worksheet::text);
  END IF;
  RETURN QUERY
  INSERT INTO @extschema@.meter_mapping AS m
         (provider_server, external_meter_id, scaler_meter_id, valid_from, valid_to, target_unit, note)
  SELECT w.provider_server, w.external_meter_id, w.scaler_meter_id, w.valid_from, w.valid_to,
         w.target_unit, coalesce(w.note, format('mapping worksheet, row %s', w.line))
    FROM pg_temp.scaler_worksheet_rows w ORDER BY w.line
  RETURNING (SELECT w2.line FROM pg_temp.scaler_worksheet_rows w2
              WHERE w2.provider_server = m.provider_server AND w2.external_meter_id = m.external_meter_id
                AND w2.validity = m.validity),
            m.external_meter_id, m.scaler_meter_id, m.validity;
  DROP TABLE pg_temp.scaler_worksheet_rows;
END
$$;

-- ---- views for BI tools ----

-- Creates, in target_schema, the views of one provider server:
--   mapped_consumption: its readings of mapped meters, with Scaler ids, in
--     the mapping's target unit (else the Scaler meter's unit), each reading
--     under the mapping valid on its period_start's date (session time zone);
--   unmapped_meters: its meters with no mapping valid today.
-- Plain views over the foreign tables, so a query's quals still reach the API.
CREATE FUNCTION @extschema@.create_mapped_views(target_schema name, provider_server text,
                                                meters regclass, consumption regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  server_oid oid;
  other text;
BEGIN
  SELECT s.oid INTO server_oid
    FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
   WHERE s.srvname = provider_server AND w.fdwname = 'scaler_fdw';
  IF server_oid IS NULL THEN
    RAISE EXCEPTION 'server "%" is not a scaler_fdw server', provider_server
      USING ERRCODE = 'undefined_object';
  END IF;
  -- foreign tables must be that server's: another server's ids would join silently
  SELECT string_agg(format('%s belongs to server "%s"', ft.ftrelid::regclass, fs.srvname), '; ') INTO other
    FROM pg_foreign_table ft JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
   WHERE ft.ftrelid IN (meters, consumption) AND ft.ftserver <> server_oid;
  IF other IS NOT NULL THEN
    RAISE EXCEPTION 'the tables are not server "%"''s', provider_server
      USING ERRCODE = 'invalid_parameter_value', DETAIL = other || '.';
  END IF;
  PERFORM @extschema@.require_columns(consumption, ARRAY['meter_id', 'period_start', 'period_end', 'value', 'unit'],
    'Pass the provider''s canonical meters and consumption tables (IMPORT FOREIGN SCHEMA).');
  PERFORM @extschema@.require_columns(meters, ARRAY['meter_id', 'name', 'resource'],
    'Pass the provider''s canonical meters and consumption tables (IMPORT FOREIGN SCHEMA).');

  EXECUTE format($v$
    CREATE VIEW %1$I.mapped_consumption AS
    SELECT m.scaler_meter_id, c.meter_id AS external_meter_id, m.provider_server,
           c.period_start, c.period_end,
           CASE WHEN u.to_unit IS NULL THEN c.value
                ELSE @extschema@.convert_fuel(c.value, c.unit, u.to_unit,
                                              coalesce(m.fuel, CASE sm.resource WHEN 'gas' THEN 'natural_gas' END),
                                              calorific_value => m.calorific_value,
                                              calorific_value_unit => m.calorific_value_unit) END AS value,
           coalesce(u.to_unit, c.unit) AS unit,
           c.value AS provider_value, c.unit AS provider_unit, m.mapping_id
      FROM %2$s c
      JOIN @extschema@.meter_mapping m
        ON m.provider_server = (SELECT srvname FROM pg_catalog.pg_foreign_server WHERE oid = %4$s)
       AND m.external_meter_id = c.meter_id
       AND m.validity @> c.period_start::date
      LEFT JOIN @extschema@.scaler_meter sm ON sm.meter_id = m.scaler_meter_id
      CROSS JOIN LATERAL (SELECT coalesce(m.target_unit, sm.unit) AS to_unit) u$v$,
    target_schema, consumption, provider_server, server_oid);
  EXECUTE format($v$
    CREATE VIEW %1$I.unmapped_meters AS
    SELECT p.meter_id, p.name, p.resource
      FROM %2$s p
     WHERE NOT EXISTS (SELECT FROM @extschema@.meter_mapping m
                        WHERE m.provider_server = (SELECT srvname FROM pg_catalog.pg_foreign_server
                                                    WHERE oid = %4$s)
                          AND m.external_meter_id = p.meter_id
                          AND m.validity @> current_date)$v$,
    target_schema, meters, provider_server, server_oid);
  EXECUTE format('COMMENT ON VIEW %I.mapped_consumption IS %L', target_schema,
                 format('Readings of server %s''s mapped meters with Scaler ids, converted (scaler_fdw)', provider_server));
  EXECUTE format('COMMENT ON VIEW %I.unmapped_meters IS %L', target_schema,
                 format('Meters of server %s with no mapping valid today (scaler_fdw)', provider_server));
END
$$;

-- Per provider server: how far mapping has come.
CREATE VIEW @extschema@.mapping_report AS
SELECT m.provider_server,
       count(*) FILTER (WHERE m.validity @> current_date) AS meters_mapped_today,
       count(*) AS mappings,
       count(*) FILTER (WHERE upper(m.validity) > current_date
                          AND upper(m.validity) <= current_date + 31) AS mappings_ending_within_a_month,
       count(*) FILTER (WHERE m.target_unit IS NULL AND sm.unit IS NULL) AS mappings_without_a_unit,
       count(*) FILTER (WHERE sm.meter_id IS NOT NULL AND NOT sm.listed) AS mapped_to_delisted_scaler_meters,
       min(m.mapped_at) AS first_mapped_at, max(m.mapped_at) AS last_mapped_at
  FROM @extschema@.meter_mapping m
  LEFT JOIN @extschema@.scaler_meter sm ON sm.meter_id = m.scaler_meter_id
 GROUP BY m.provider_server;
GRANT SELECT ON @extschema@.mapping_report TO PUBLIC;

-- Scaler meters (as last listed) that no external meter feeds today.
CREATE VIEW @extschema@.unmapped_scaler_meters AS
SELECT sm.meter_id, sm.asset_id, sm.name, sm.resource, sm.unit
  FROM @extschema@.scaler_meter sm
 WHERE sm.listed
   AND NOT EXISTS (SELECT FROM @extschema@.meter_mapping m
                    WHERE m.scaler_meter_id = sm.meter_id AND m.validity @> current_date);
GRANT SELECT ON @extschema@.unmapped_scaler_meters TO PUBLIC;
