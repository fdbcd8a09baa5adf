"""Game titles we wrote ourselves (no dataset text), shared by the fixture and benchmark scripts."""
TITLES = ["Super Mario Odyssey", "Mario Kart 8 Deluxe", "The Legend of Zelda: Breath of the Wild", "Splatoon 2",
          "Halo 5: Guardians - Xbox One", "Gears of War 4", "Forza Horizon 3", "Call of Duty: Black Ops III - PlayStation 4",
          "FIFA 19 - PlayStation 4", "Madden NFL 18", "Final Fantasy XV", "Kingdom Hearts III", "Resident Evil 7 biohazard",
          "Dark Souls III", "Pokemon Sun", "Animal Crossing: New Leaf", "Xbox Wireless Controller - Black",
          "DualShock 4 Wireless Controller", "HDMI Cable 6ft", "Nintendo Switch Pro Controller", "Turtle Beach Recon 50 Headset",
          "PlayStation Plus: 12 Month Membership", "Minecraft - Xbox 360", "Grand Theft Auto V", "The Witcher 3: Wild Hunt",
          "Fallout 4", "Skyrim Special Edition", "Overwatch Origins Edition", "Rocket League Collector's Edition",
          "Crash Bandicoot N. Sane Trilogy", "Spyro Reignited Trilogy", "Sonic Mania Plus", "Persona 5", "Yakuza 0",
          "Metroid Prime Trilogy", "Donkey Kong Country: Tropical Freeze", "Rayman Legends", "Just Dance 2018",
          "Guitar Hero Live", "Sea of Thieves"]
