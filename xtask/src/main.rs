//! Project automation (`cargo xtask …`); a placeholder until tasks are added.

fn main() {}
