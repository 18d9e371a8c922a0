"""Board constraints as package data: one TOML file per board, read by ipvae.rtl.boards.top."""
