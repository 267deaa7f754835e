"""Small word lists for synthetic answers: given names, phone numbers, phrases, district facts.

The names are common Indonesian given names (Javanese, Sundanese, Sasak, Muslim and Christian names
used in East Nusa Tenggara), combined at random: they describe no real person. Phone numbers use
real operator prefixes with random subscriber digits; addresses are made-up RT/RW/dusun lines.
"""

from __future__ import annotations

from random import Random

# Kemendagri district code without dots -> facts the generator needs. Share of respondents is a guess
# at relative programme size; region drives destination patterns; offset is the local time zone.
DISTRICTS = {
    "3212": {"name": "Indramayu", "weight": 0.20, "region": "java", "offset": "+07:00"},
    "3305": {"name": "Kebumen", "weight": 0.12, "region": "java", "offset": "+07:00"},
    "3307": {"name": "Wonosobo", "weight": 0.10, "region": "java", "offset": "+07:00"},
    "3509": {"name": "Jember", "weight": 0.17, "region": "java", "offset": "+07:00"},
    "3510": {"name": "Banyuwangi", "weight": 0.15, "region": "java", "offset": "+07:00"},
    "5202": {"name": "Lombok Tengah", "weight": 0.18, "region": "ntb", "offset": "+08:00"},
    "5313": {"name": "Lembata", "weight": 0.08, "region": "ntt", "offset": "+08:00"},
}
DISTRICT_CODES = tuple(DISTRICTS)

# Approximate district centres (lat, lon), for synthetic GPS answers.
CENTROIDS = {
    "3212": (-6.45, 108.20), "3305": (-7.67, 109.65), "3307": (-7.36, 109.90), "3509": (-8.17, 113.70),
    "3510": (-8.22, 114.37), "5202": (-8.70, 116.27), "5313": (-8.41, 123.55),
}

# Villages used only when panel/wilayah.csv cannot be read: (Kemendagri code, name).
FALLBACK_VILLAGES = {
    "3212": [("32.12.11.2005", "Juntinyuat"), ("32.12.12.2006", "Majasari")],
    "3305": [("33.05.05.2001", "Jogosimo"), ("33.05.05.2003", "Pandanlor"), ("33.05.05.2004", "Tambakprogaten")],
    "3307": [("33.07.05.2010", "Kalimendong")],
    "3509": [("35.09.07.2006", "Sidomulyo"), ("35.09.12.2002", "Sabrang"), ("35.09.12.2004", "Ambulu"),
             ("35.09.18.2005", "Wonoasri")],
    "3510": [("35.10.04.2005", "Tegaldlimo"), ("35.10.04.2006", "Wringinpitu"), ("35.10.04.2007", "Kedunggebang")],
    "5202": [("52.02.08.2001", "Pringgarata"), ("52.02.11.2005", "Darek")],
    "5313": [("53.13.03.2013", "Kolontobo"), ("53.13.03.2026", "Riangbao")],
}

# Destinations of the last trip, DOMAIN.md order; keyword lists match choice labels in any language.
DESTINATIONS = [
    ("malaysia", ("malaysia",)),
    ("taiwan", ("taiwan",)),
    ("hongkong", ("hong kong", "hongkong")),
    ("singapore", ("singapura", "singapore")),
    ("saudi", ("saudi",)),
    ("middle_east", ("timur tengah", "middle east", "emirat", "qatar", "kuwait", "oman", "bahrain", "yordania",
                     "jordan")),
    ("brunei", ("brunei",)),
    ("korea", ("korea",)),
    ("japan", ("jepang", "japan")),
    ("other", ("lain", "other")),
]
# Shares by sex and region (they sum to 1 per key); women go mostly to domestic and care work in
# Hong Kong, Taiwan, Singapore, Malaysia and Saudi Arabia, men to plantations, fishing and factories.
DESTINATION_WEIGHTS = {
    ("F", "java"): [0.16, 0.30, 0.24, 0.10, 0.10, 0.04, 0.02, 0.01, 0.01, 0.02],
    ("M", "java"): [0.34, 0.22, 0.01, 0.04, 0.06, 0.04, 0.04, 0.14, 0.08, 0.03],
    ("F", "ntb"): [0.40, 0.10, 0.05, 0.05, 0.28, 0.07, 0.02, 0.00, 0.00, 0.03],
    ("M", "ntb"): [0.78, 0.04, 0.00, 0.01, 0.08, 0.03, 0.02, 0.02, 0.00, 0.02],
    ("F", "ntt"): [0.72, 0.05, 0.05, 0.06, 0.04, 0.02, 0.02, 0.00, 0.00, 0.04],
    ("M", "ntt"): [0.90, 0.01, 0.00, 0.01, 0.01, 0.01, 0.03, 0.01, 0.00, 0.02],
}
DEFAULT_DESTINATION_CODES = {key: str(i + 1) for i, (key, _) in enumerate(DESTINATIONS)}
DEFAULT_DESTINATION_CODES["other"] = "96"

BUSINESS_TYPES = [  # (default code, label)
    ("1", "Warung / toko kelontong"), ("2", "Makanan dan minuman olahan"), ("3", "Pertanian"),
    ("4", "Peternakan / perikanan"), ("5", "Jasa (salon, jahit, bengkel)"), ("6", "Kerajinan"),
    ("7", "Perdagangan online"), ("8", "Transportasi / ojek"), ("96", "Lainnya"),
]
BUSINESS_WEIGHTS = {"1": 0.26, "2": 0.22, "3": 0.12, "4": 0.12, "5": 0.10, "6": 0.06, "7": 0.06, "8": 0.04,
                    "96": 0.02}

FEMALE = {
    "java": ["Siti", "Sri", "Nur", "Dewi", "Wahyuni", "Ratna", "Endang", "Tuti", "Yuli", "Lestari", "Rina",
             "Eka", "Sulastri", "Suminah", "Warsini", "Kartini", "Umi", "Nining", "Ani", "Ida", "Tri", "Puji",
             "Rohmah", "Fitri", "Indah", "Yanti", "Susanti", "Mulyani", "Kusmiati", "Darsih", "Tarsih",
             "Casmini", "Rasmi", "Winarti", "Khotijah", "Aminah", "Halimah", "Maesaroh", "Sumiati", "Jumiati"],
    "ntb": ["Baiq", "Nurul", "Siti", "Hadijah", "Sahnun", "Rukmini", "Inaq", "Marni", "Zaenab", "Saodah",
            "Hapsah", "Rohani", "Fatimah", "Mariam", "Nurhayati"],
    "ntt": ["Maria", "Yuliana", "Theresia", "Veronika", "Agnes", "Lusia", "Fransiska", "Margareta",
            "Katarina", "Elisabeth", "Bernadeta", "Yosefina", "Dominika", "Martha", "Antonia"],
}
MALE = {
    "java": ["Budi", "Agus", "Slamet", "Joko", "Bambang", "Eko", "Heri", "Dedi", "Rudi", "Wawan", "Darto",
             "Sugeng", "Paijo", "Suparman", "Rohmat", "Tarno", "Warsito", "Kusnadi", "Carsim", "Daryono",
             "Ahmad", "Muhammad", "Rahmat", "Imam", "Yusuf", "Hasan", "Sutrisno", "Mulyadi", "Sukarno", "Sanusi"],
    "ntb": ["Lalu", "Muhammad", "Ahmad", "Amaq", "Zainal", "Saprudin", "Hamdan", "Rusdi", "Jumadil", "Sahril",
            "Mahsun", "Nasrudin", "Sabri", "Kamarudin", "Hairil"],
    "ntt": ["Yohanes", "Petrus", "Paulus", "Fransiskus", "Antonius", "Yosef", "Stefanus", "Dominikus",
            "Mikael", "Aloysius", "Kornelis", "Bernardus", "Markus", "Simon", "Gabriel"],
}
SECOND = {
    "java": ["Wati", "Ningsih", "Rahayu", "Astuti", "Handayani", "Setiawan", "Santoso", "Prasetyo", "Hidayat",
             "Saputra", "Susilo", "Purnomo", "Wibowo", "Kurniawan", "Rohmah", "Fauziah", "Maulana", "Hakim"],
    "ntb": ["Hidayati", "Aini", "Rahman", "Hasanah", "Wahid", "Fadli", "Ilham", "Salim", "Azizah", "Jayadi"],
    "ntt": ["Beda", "Making", "Lamanepa", "Ola", "Tolok", "Kedang", "Bataona", "Lewotobi", "Wuwur", "Hadung"],
}

OPERATOR_PREFIXES = ["0811", "0812", "0813", "0821", "0822", "0852", "0853", "0856", "0857", "0858", "0877",
                     "0878", "0881", "0882", "0895", "0896", "0897", "0898"]

WORDS = ["usaha", "warung", "sawah", "kebun", "pasar", "keluarga", "anak", "sekolah", "modal", "pinjaman",
         "koperasi", "desa", "pelatihan", "jualan", "online", "ternak", "kambing", "ayam", "kue", "jahit",
         "rumah", "perbaikan", "tabungan", "kiriman", "majikan", "agen", "kontrak", "pulang", "sehat", "kerja"]
DUSUN = ["Krajan", "Karanganyar", "Sumbersari", "Tegalrejo", "Sidorejo", "Kidul", "Lor", "Wetan", "Kulon",
         "Gunungsari", "Sukamaju", "Mekarsari", "Lewoleba", "Dasan Baru"]


def region_of(kab: str) -> str:
    return DISTRICTS.get(str(kab), {}).get("region", "java")


def person_name(rng: Random, sex: str = "", region: str = "java") -> str:
    """A made-up name: one or two common given names for the sex ('F'/'M', random when '')."""
    if sex not in ("F", "M"):
        sex = "F" if rng.random() < 0.7 else "M"
    region = region if region in FEMALE else "java"
    first = rng.choice(FEMALE[region] if sex == "F" else MALE[region])
    if rng.random() < 0.55:
        second = rng.choice(SECOND[region])
        if second != first:
            return f"{first} {second}"
    return first


def phone_number(rng: Random) -> str:
    return rng.choice(OPERATOR_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(rng.choice((7, 8))))


def address(rng: Random) -> str:
    return f"RT {rng.randint(1, 12):02d}/RW {rng.randint(1, 6):02d}, Dusun {rng.choice(DUSUN)}"


def phrase(rng: Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5))).capitalize()


__all__ = ["DISTRICTS", "DISTRICT_CODES", "CENTROIDS", "FALLBACK_VILLAGES", "DESTINATIONS", "DESTINATION_WEIGHTS",
           "BUSINESS_TYPES", "BUSINESS_WEIGHTS", "person_name", "phone_number", "address", "phrase", "region_of"]
