#!/usr/bin/env python3
"""A portfolio seen twice, for the suggestion-quality benchmark: Scaler's
assets and meters, and the same meters as a provider writes them, with the
noise real exports carry (abbreviations, reordered address parts, typos,
case, other id formats), and the truth: which provider meter is which
Scaler meter.  Both sides also hold meters the other lacks: Scaler meters of
other buildings (half of them look-alikes: a building of the same name in
another city) and provider meters not in Scaler yet.  Deterministic (seeded).
Writes five CSV files to a directory: scaler_assets.csv, scaler_meters.csv,
provider_assets.csv, provider_meters.csv and truth.csv (the pairs only).

usage: gen_mapping_portfolio.py OUT_DIR [--meters 1000] [--scaler-only 200]
                                [--provider-only 100] [--seed 7]
"""
import argparse
import csv
import os
import random

PLACES = ("Harbour", "Mill", "Station", "Quayside", "Canal", "Victoria", "Kingsway", "Riverside",
          "Meridian", "Albion", "Beacon", "Cedar", "Crown", "Eastgate", "Foundry", "Granary",
          "Highfield", "Ironbridge", "Juniper", "Lancaster", "Maple", "Northgate", "Orchard",
          "Parkside", "Regent", "Sovereign", "Thornbury", "Union", "Waterside", "Westminster")
KINDS = ("House", "Court", "Works", "Point", "Plaza", "Tower", "Centre", "Park", "Yard", "Building")
STREETS = ("Canal", "High", "Market", "Church", "Station", "Mill", "Bridge", "King", "Queen", "Park",
           "Victoria", "Albert", "London", "York", "Castle", "Water", "Chapel", "Green", "Manor", "Hill")
STREET_KINDS = ("Street", "Road", "Avenue", "Lane", "Place", "Square")
CITIES = ("Manchester", "Leeds", "Bristol", "Glasgow", "Amsterdam", "Rotterdam", "Berlin", "Hamburg",
          "Lyon", "Madrid", "Dublin", "Cardiff", "Liverpool", "Sheffield", "Utrecht")
RESOURCES = (("electricity", "E", "kWh"), ("gas", "G", "m3"), ("water", "W", "m3"), ("heat", "H", "MWh"))
ABBREVIATE = {"Street": "St", "Road": "Rd", "Avenue": "Ave", "Lane": "Ln", "Place": "Pl",
              "Square": "Sq", "House": "Hse", "Works": "Wks", "Centre": "Ctr", "Tower": "Twr",
              "Building": "Bldg", "Park": "Pk", "electricity": "Elec", "meter": "Mtr"}


def typo(rng, word):
    """One slip of the keyboard: a letter dropped, doubled or swapped."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def noisy(rng, text, p_abbrev=0.6, p_typo=0.25):
    words = []
    for w in text.split(" "):
        if w in ABBREVIATE and rng.random() < p_abbrev:
            w = ABBREVIATE[w]
        elif rng.random() < p_typo / max(1, len(text.split(" "))) * 2:
            w = typo(rng, w)
        words.append(w)
    out = " ".join(words)
    return rng.choice((out, out, out.upper(), out.lower()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--scaler-only", type=int, default=200)
    ap.add_argument("--provider-only", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)

    # Assets with distinct names; most carry the four resources, some two
    # electricity meters (main and sub), so names within an asset matter.
    used = set()
    assets, meters = [], []

    def add_meters(asset, limit, side):
        kinds = list(RESOURCES)
        if rng.random() < 0.2:
            kinds.append(RESOURCES[0])
        seen = {}
        for res, letter, unit in kinds:
            if len(meters) >= limit:
                break
            seen[res] = seen.get(res, 0) + 1
            m = len(meters) + 1
            meters.append({"scaler_id": str(5000 + m), "asset": asset, "resource": res, "unit": unit,
                           "code": f"SC-{letter}-{m:05d}", "k": seen[res], "side": side})

    def new_asset(name):
        a = len(assets) + 1
        asset = {"asset_id": f"{a}", "name": name, "number": rng.randrange(1, 200),
                 "street": f"{rng.choice(STREETS)} {rng.choice(STREET_KINDS)}", "city": rng.choice(CITIES),
                 "postcode": f"{rng.choice('MLBGE')}{rng.randrange(1, 30)} "
                             f"{rng.randrange(1, 9)}{rng.choice('ABDEFH')}{rng.choice('JLNPQR')}"}
        assets.append(asset)
        return asset

    def fresh_name():
        while True:
            name = f"{rng.choice(PLACES)} {rng.choice(KINDS)}"
            if name not in used:
                used.add(name)
                return name

    while len(meters) < args.meters:
        # a fifth of the names repeat in other cities (chains, common names)
        name = fresh_name() if rng.random() < 0.8 or not assets else rng.choice(assets)["name"]
        add_meters(new_asset(name), args.meters, "both")

    paired = len(meters)
    # Scaler only: other buildings, half of them named like one of ours
    while len(meters) < paired + args.scaler_only:
        twin = rng.choice(assets[:len(assets)])["name"] if rng.random() < 0.5 else fresh_name()
        add_meters(new_asset(twin), paired + args.scaler_only, "scaler")
    # provider only: buildings not in Scaler yet
    while len(meters) < paired + args.scaler_only + args.provider_only:
        add_meters(new_asset(fresh_name()), paired + args.scaler_only + args.provider_only, "provider")
    on_scaler = [m for m in meters if m["side"] in ("both", "scaler")]
    on_provider = [m for m in meters if m["side"] in ("both", "provider")]
    scaler_assets = {m["asset"]["asset_id"]: m["asset"] for m in on_scaler}
    provider_assets = {m["asset"]["asset_id"]: m["asset"] for m in on_provider}

    with open(os.path.join(args.out_dir, "scaler_assets.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["asset_id", "name", "address", "city", "postcode", "country", "portfolio_id"])
        for a in scaler_assets.values():
            w.writerow([a["asset_id"], a["name"], f"{a['number']} {a['street']}", a["city"], a["postcode"],
                        "GB", "1"])
    with open(os.path.join(args.out_dir, "scaler_meters.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["meter_id", "asset_id", "name", "resource", "unit", "meter_code"])
        for m in on_scaler:
            label = "main" if m["k"] == 1 else "sub"
            w.writerow([m["scaler_id"], m["asset"]["asset_id"],
                        f"{m['asset']['name']} {m['resource']} meter {m['k']} ({label})",
                        m["resource"], m["unit"], m["code"]])

    # The provider: its own asset and meter ids, names as its users typed them.
    order = [i for i, m in enumerate(meters) if m["side"] in ("both", "provider")]
    rng.shuffle(order)
    with open(os.path.join(args.out_dir, "provider_assets.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["asset_id", "name", "address", "city", "postcode"])
        for a in provider_assets.values():
            street = noisy(rng, a["street"])
            address = (f"{street} {a['number']}" if rng.random() < 0.4 else f"{a['number']} {street}")
            # some sites are known to the provider by a code only
            pname = noisy(rng, a["name"]) if rng.random() < 0.85 else f"Site {int(a['asset_id']) * 7}"
            w.writerow([f"B-{int(a['asset_id']) * 7:05d}", pname, address,
                        a["city"].upper() if rng.random() < 0.3 else a["city"],
                        a["postcode"].replace(" ", "") if rng.random() < 0.5 else a["postcode"]])
    with open(os.path.join(args.out_dir, "provider_meters.csv"), "w", newline="") as f, \
            open(os.path.join(args.out_dir, "truth.csv"), "w", newline="") as t:
        w, tw = csv.writer(f), csv.writer(t)
        w.writerow(["meter_id", "asset_id", "name", "serial_number", "resource"])
        tw.writerow(["meter_id", "scaler_meter_id"])
        for i in order:
            m = meters[i]
            label = "main" if m["k"] == 1 else "sub"
            base = rng.choice((f"{m['asset']['name']} {m['resource']} meter {m['k']}",
                               f"{m['resource']} meter {m['k']} {label} {m['asset']['name']}",
                               f"{m['asset']['name']} {m['resource']} {label}",
                               f"{m['resource']} meter {m['k']}",
                               f"{m['resource']} {label}"))
            # a third of the meters carry Scaler's code as their serial, written their way
            serial = ""
            if rng.random() < 0.33:
                serial = m["code"].lower().replace("-", "") if rng.random() < 0.5 else m["code"].replace("-", " ")
            pid = f"PRV{10000 + i:06d}"
            w.writerow([pid, f"B-{int(m['asset']['asset_id']) * 7:05d}", noisy(rng, base), serial, m["resource"]])
            if m["side"] == "both":
                tw.writerow([pid, m["scaler_id"]])


if __name__ == "__main__":
    main()
