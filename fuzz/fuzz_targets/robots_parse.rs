//! robots.txt comes from every crawled host: parsing and matching must not panic (nor take
//! quadratic time on long patterns), whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilmark_crawler::robots::Robots;

fuzz_target!(|data: &[u8]| {
    // The last line of the input doubles as the path asked about.
    let text = String::from_utf8_lossy(data);
    let path = text.rsplit('\n').next().unwrap_or("/");
    let robots = Robots::parse_bytes(data, "VeilmarkBot/0.1");
    for p in ["/", "/robots.txt", "/a/b.pdf?x=1", path] {
        let _ = robots.allowed(p);
    }
    assert!(robots.allowed("/robots.txt"));
    let _ = robots.crawl_delay;
});
