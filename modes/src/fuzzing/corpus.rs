//! Payload families of the compression cases (groups 12 and 13).
//!
//! The original suite ships five files (a JSON document, a grey-scale bitmap, a German play
//! from Project Gutenberg, an HTML page and a PDF paper). We do not copy them: each family
//! here is generated, deterministically, with the same kind of content, the same type (text
//! or binary, as the original flags them) and about the same size, so a compressor sees
//! structured text, smooth image data, natural-language prose, markup and already
//! compressed data. Verdicts do not depend on the octets (every message must come back as
//! sent); only the compression ratios in the reports do.
//!
//! Messages are cut from a family as a ring: each message takes the next `len` units after
//! the previous one, wrapping at the end. Text families are cut in characters (a message of
//! length 16 is 16 code points, more octets when some are multi-byte), binary ones in octets.

use std::fmt::Write;
use std::sync::OnceLock;

use wstest_engine::proto::deflate::Deflater;

/// One payload family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Corpus {
    /// JSON records (text).
    Json,
    /// A 512x512 8-bit grey-scale BMP (binary).
    Bitmap,
    /// German verse drama (sent as binary, as the original does with its play).
    Prose,
    /// An HTML report page (text).
    Html,
    /// A PDF whose streams are deflated or random (binary, nearly incompressible).
    Pdf,
}

impl Corpus {
    /// In the order of the original's groups 12.1 to 12.5.
    pub const ALL: [Corpus; 5] = [
        Corpus::Json,
        Corpus::Bitmap,
        Corpus::Prose,
        Corpus::Html,
        Corpus::Pdf,
    ];

    pub fn binary(self) -> bool {
        !matches!(self, Corpus::Json | Corpus::Html)
    }

    pub fn description(self) -> &'static str {
        match self {
            Corpus::Json => "Generated JSON records",
            Corpus::Bitmap => "Generated 512x512 grey-scale bitmap (BMP)",
            Corpus::Prose => "Generated German verse drama, plain text sent as binary",
            Corpus::Html => "Generated HTML report page",
            Corpus::Pdf => "Generated PDF with deflated and random streams",
        }
    }

    /// The family's octets (generated once per process).
    pub fn data(self) -> &'static Data {
        static CELLS: [OnceLock<Data>; 5] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let i = Corpus::ALL.iter().position(|c| *c == self).unwrap_or(0);
        CELLS[i].get_or_init(|| Data::new(self.generate(), !self.binary()))
    }

    fn generate(self) -> Vec<u8> {
        match self {
            Corpus::Json => json(),
            Corpus::Bitmap => bitmap(),
            Corpus::Prose => prose(),
            Corpus::Html => html(),
            Corpus::Pdf => pdf(),
        }
    }
}

/// A family's octets, with the start of every character for text families.
pub struct Data {
    pub bytes: Vec<u8>,
    /// Octet offset of each unit (character or octet) plus the end; empty for binary.
    starts: Vec<usize>,
}

impl Data {
    fn new(bytes: Vec<u8>, text: bool) -> Data {
        let starts = if text {
            let s = std::str::from_utf8(&bytes).expect("generated text is UTF-8");
            s.char_indices()
                .map(|(i, _)| i)
                .chain([bytes.len()])
                .collect()
        } else {
            Vec::new()
        };
        Data { bytes, starts }
    }

    /// Units in the ring (characters or octets).
    pub fn units(&self) -> usize {
        if self.starts.is_empty() {
            self.bytes.len()
        } else {
            self.starts.len() - 1
        }
    }

    fn offset(&self, unit: usize) -> usize {
        if self.starts.is_empty() {
            unit
        } else {
            self.starts[unit]
        }
    }

    /// The message of `len` units starting at unit `*pos`; moves `*pos` past it. Like the
    /// original's: from `pos` to `(pos + len) mod units`, wrapping when that is not further
    /// on (so `len` equal to the ring's size is the whole ring, rotated).
    pub fn next_message(&self, pos: &mut usize, len: usize, out: &mut Vec<u8>) {
        out.clear();
        let n = self.units();
        if len == 0 || n == 0 {
            return;
        }
        let from = *pos % n;
        let to = (from + len) % n;
        if to > from {
            out.extend_from_slice(&self.bytes[self.offset(from)..self.offset(to)]);
        } else {
            out.extend_from_slice(&self.bytes[self.offset(from)..]);
            out.extend_from_slice(&self.bytes[..self.offset(to)]);
        }
        *pos = to;
    }
}

/// splitmix64: a tiny fixed generator, so the families are the same in every build
/// (hand-written on purpose: a crate's generator may change its stream between versions).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const WORDS: &[&str] = &[
    "Nacht",
    "Himmel",
    "Erde",
    "Geist",
    "Herz",
    "Liebe",
    "Welt",
    "Stunde",
    "Traum",
    "Licht",
    "Schatten",
    "Wahrheit",
    "Seele",
    "Feuer",
    "Wasser",
    "Garten",
    "König",
    "Mädchen",
    "Glück",
    "Schönheit",
    "Frühling",
    "Blüte",
    "Tür",
    "Brücke",
    "Wälder",
    "Flüsse",
    "Stürme",
    "und",
    "der",
    "die",
    "das",
    "ich",
    "du",
    "wir",
    "nicht",
    "noch",
    "schon",
    "über",
    "unter",
    "für",
    "mit",
    "ohne",
    "ewig",
    "still",
    "hell",
    "dunkel",
    "fröhlich",
    "müde",
    "süß",
    "fließt",
    "träumt",
    "wärmt",
    "sehnt",
    "ruft",
    "weiß",
    "kennt",
    "sucht",
    "findet",
    "bleibt",
];

const NAMES: &[&str] = &[
    "Zoë Åberg",
    "José Núñez",
    "Łukasz Wróbel",
    "Ingrid Østergård",
    "François Lefèvre",
    "Ana Silva",
    "Ming Li",
    "Søren Kierkegård",
    "Jürgen Müller",
    "Chloé Dubois",
];

fn json() -> Vec<u8> {
    let mut r = Rng(0x6a73_6f6e);
    let outcomes = [
        "OK",
        "NON-STRICT",
        "FAILED",
        "INFORMATIONAL",
        "UNIMPLEMENTED",
    ];
    let mut s = String::from("[\n");
    let mut i = 0;
    while s.len() < 194_000 {
        if i > 0 {
            s.push_str(",\n");
        }
        // Records as a service writes them: mostly derived from their place in the list, a
        // few values that vary (the original's document compresses to 4 % at zlib level 6).
        let behavior = if r.below(24) == 0 {
            r.pick(&outcomes)
        } else {
            "OK"
        };
        let _ = write!(
            s,
            "  {{\"id\": {i}, \"case\": \"{}.{}.{}\", \"owner\": \"{}\", \"behavior\": \"{behavior}\", \
             \"duration\": {}, \"ratio\": 0.{:03}, \"passed\": {}, \"tags\": [\"{}\", \"{}\"], \
             \"note\": \"{} {} {}\", \"suite\": \"conformance\", \"transport\": {{\"scheme\": \"ws\", \
             \"extensions\": [\"permessage-deflate\"], \"tls\": false}}, \"checked\": [\"framing\", \
             \"utf-8\", \"closing handshake\"]}}",
            1 + i / 162 % 13,
            1 + i / 18 % 9,
            1 + i % 18,
            NAMES[i / 18 % NAMES.len()],
            10 + i % 4 * 5,
            i % 10 * 100,
            behavior == "OK",
            WORDS[i % 7],
            WORDS[7 + i % 5],
            WORDS[i / 18 % 11],
            WORDS[20],
            WORDS[21],
        );
        i += 1;
    }
    s.push_str("\n]\n");
    s.into_bytes()
}

fn prose() -> Vec<u8> {
    let mut r = Rng(0x7665_7273);
    let speakers = [
        "FAUST",
        "MEPHISTOPHELES",
        "GRETCHEN",
        "WAGNER",
        "MARTHE",
        "CHOR",
    ];
    let mut s = String::from("Eine Tragödie in Versen\n\n");
    let mut scene = 1;
    while s.len() < 222_000 {
        if r.below(40) == 0 {
            let _ = write!(s, "\n{scene}. SZENE\n\n");
            scene += 1;
        }
        let _ = writeln!(s, "{}:", r.pick(&speakers));
        for _ in 0..2 + r.below(6) {
            let words = 4 + r.below(5);
            // Inflected and compound words, as in real verse (a small vocabulary alone
            // compresses far better than the original's play).
            const ENDINGS: &[&str] = &["", "", "e", "en", "er", "es", "st", "te", "lich", "heit"];
            let owned: Vec<String> = (0..words)
                .map(|_| {
                    let mut w = r.pick(WORDS).to_string();
                    if r.below(3) == 0 {
                        w.push_str(&r.pick(WORDS).to_lowercase());
                    }
                    w.push_str(r.pick(ENDINGS));
                    w
                })
                .collect();
            let mut line: Vec<&str> = owned.iter().map(String::as_str).collect();
            let first = line[0];
            let cap: String = first
                .chars()
                .next()
                .map(|c| c.to_uppercase().chain(first.chars().skip(1)).collect())
                .unwrap_or_default();
            line[0] = &cap;
            let end = [",", ".", "!", "?", ";"][r.below(5)];
            let _ = writeln!(s, "  {}{end}", line.join(" "));
        }
        s.push('\n');
    }
    s.into_bytes()
}

fn html() -> Vec<u8> {
    let mut r = Rng(0x6874_6d6c);
    let mut s = String::from(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Test report</title>\n\
         <style>\ntable { border-collapse: collapse; }\ntd.ok { background: #0a0; }\n\
         td.fail { background: #e00; }\n</style>\n</head>\n<body>\n<h1>Test report</h1>\n",
    );
    let mut section = 1;
    while s.len() < 263_000 {
        let _ = write!(
            s,
            "<h2 id=\"s{section}\">Section {section}: {}</h2>\n<table>\n<tr><th>Case</th><th>Owner</th><th>Result</th><th>Duration</th></tr>\n",
            r.pick(WORDS)
        );
        for row in 0..20 + r.below(20) {
            let ok = r.below(6) != 0;
            let _ = writeln!(
                s,
                "<tr class=\"case-row\"><td class=\"case\"><a href=\"case_{section}_{row}.html\">{section}.{row}</a></td>\
                 <td class=\"owner\">{}</td><td class=\"{}\">{}</td><td class=\"duration\">{} ms</td></tr>",
                NAMES[row % NAMES.len()],
                if ok { "ok" } else { "fail" },
                if ok { "Pass" } else { "Fail" },
                10 + row % 7 * 10
            );
        }
        let _ = writeln!(
            s,
            "</table>\n<p>{} {} {} {}.</p>",
            r.pick(WORDS),
            WORDS[section % 9],
            WORDS[9 + section % 7],
            WORDS[20]
        );
        section += 1;
    }
    s.push_str("</body>\n</html>\n");
    s.into_bytes()
}

fn bitmap() -> Vec<u8> {
    const W: usize = 512;
    const H: usize = 512;
    let pixels = W * H;
    let offset = 14 + 40 + 256 * 4;
    let size = offset + pixels;
    let mut b = Vec::with_capacity(size);
    // BITMAPFILEHEADER
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&(size as u32).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&(offset as u32).to_le_bytes());
    // BITMAPINFOHEADER: 512x512, 1 plane, 8 bits, no compression, 256 palette entries.
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&(W as i32).to_le_bytes());
    b.extend_from_slice(&(H as i32).to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(pixels as u32).to_le_bytes());
    b.extend_from_slice(&2835u32.to_le_bytes());
    b.extend_from_slice(&2835u32.to_le_bytes());
    b.extend_from_slice(&256u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    for g in 0..=255u8 {
        b.extend_from_slice(&[g, g, g, 0]);
    }
    // A smooth photo-like scene with a little sensor noise.
    let mut r = Rng(0x0062_6d70);
    for y in 0..H {
        for x in 0..W {
            let (fx, fy) = (x as f64, y as f64);
            let v = 120.0
                + 50.0 * (fx / 37.0).sin() * (fy / 53.0).cos()
                + 35.0 * ((fx + 2.0 * fy) / 91.0).sin()
                + 25.0 * (((fx - 256.0).powi(2) + (fy - 200.0).powi(2)).sqrt() / 29.0).cos()
                + (r.below(9) as f64 - 4.0);
            b.push(v.clamp(0.0, 255.0) as u8);
        }
    }
    b
}

fn pdf() -> Vec<u8> {
    let mut r = Rng(0x0070_6466);
    let mut b: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let mut obj = 1;
    while b.len() < 1_040_000 {
        offsets.push(b.len());
        let mut stream = Vec::new();
        let filter = if obj % 3 == 0 {
            // An embedded photo: random octets, as a JPEG stream looks to a compressor.
            stream.extend((0..24_000).map(|_| r.next() as u8));
            "/DCTDecode"
        } else {
            // A page's text content, deflated.
            let mut text = String::new();
            while text.len() < 60_000 {
                let _ = writeln!(
                    text,
                    "BT /F1 10 Tf {} {} Td ({} {} {}) Tj ET",
                    r.below(600),
                    r.below(800),
                    r.pick(WORDS),
                    r.pick(WORDS),
                    r.pick(WORDS)
                );
            }
            Deflater::new(15, true, 9).compress(text.as_bytes(), &mut stream);
            "/FlateDecode"
        };
        let _ = write!(
            DisplayBytes(&mut b),
            "{obj} 0 obj\n<< /Length {} /Filter {filter} >>\nstream\n",
            stream.len()
        );
        b.extend_from_slice(&stream);
        b.extend_from_slice(b"\nendstream\nendobj\n");
        obj += 1;
    }
    let xref = b.len();
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
    for o in &offsets {
        let _ = writeln!(tail, "{o:010} 00000 n ");
    }
    let _ = write!(
        tail,
        "trailer\n<< /Size {} >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    );
    b.extend_from_slice(tail.as_bytes());
    b
}

/// `write!` into a byte vector.
struct DisplayBytes<'a>(&'a mut Vec<u8>);

impl Write for DisplayBytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_the_original_kinds_and_sizes() {
        for c in Corpus::ALL {
            let d = c.data();
            let n = d.bytes.len();
            let (lo, hi) = match c {
                Corpus::Json => (190_000, 200_000),
                Corpus::Bitmap => (263_222, 263_222),
                Corpus::Prose => (220_000, 230_000),
                Corpus::Html => (260_000, 270_000),
                Corpus::Pdf => (1_000_000, 1_100_000),
            };
            assert!((lo..=hi).contains(&n), "{c:?}: {n} octets");
            if !c.binary() {
                assert!(std::str::from_utf8(&d.bytes).is_ok());
                assert!(d.units() < n, "{c:?} has multi-byte characters");
            }
        }
        assert!(serde_json::from_slice::<serde_json::Value>(&Corpus::Json.data().bytes).is_ok());
        assert_eq!(&Corpus::Bitmap.data().bytes[..2], b"BM");
        assert!(Corpus::Pdf.data().bytes.starts_with(b"%PDF-1.4"));
    }

    /// zlib level 6 (the original's level, and most peers') over the whole family.
    fn ratio(c: Corpus) -> f64 {
        let d = &c.data().bytes;
        let mut out = Vec::new();
        Deflater::new(15, true, 6).compress(d, &mut out);
        out.len() as f64 / d.len() as f64
    }

    /// A peer compresses and inflates every echoed message, so what it costs depends on how
    /// the family compresses: each is within a third of the original's file (zlib level 6:
    /// data1.json 0.044, lena512.bmp 0.851, pg2229.txt 0.389, data1.html 0.055, the PDF 0.758).
    #[test]
    fn families_compress_as_the_originals_do() {
        let mut bad = Vec::new();
        for (c, theirs) in [
            (Corpus::Json, 0.044),
            (Corpus::Bitmap, 0.851),
            (Corpus::Prose, 0.389),
            (Corpus::Html, 0.055),
            (Corpus::Pdf, 0.758),
        ] {
            let ours = ratio(c);
            if !(theirs * 0.67..=theirs * 1.33).contains(&ours) {
                bad.push(format!(
                    "{c:?} compresses to {ours:.3}, the original's file to {theirs}"
                ));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn deterministic() {
        assert_eq!(json(), json());
        assert_eq!(pdf()[..5000], pdf()[..5000]);
    }

    #[test]
    fn ring_cuts_characters_and_wraps() {
        let d = Data::new("aéb€c".as_bytes().to_vec(), true);
        assert_eq!(d.units(), 5);
        let mut pos = 0;
        let mut out = Vec::new();
        let mut got = Vec::new();
        for _ in 0..4 {
            d.next_message(&mut pos, 2, &mut out);
            got.push(String::from_utf8(out.clone()).unwrap());
        }
        assert_eq!(got, ["aé", "b€", "ca", "éb"]);
        // The whole ring, rotated.
        d.next_message(&mut pos, 5, &mut out);
        assert_eq!(out, "€caéb".as_bytes());
        let b = Data::new(vec![1, 2, 3], false);
        let mut pos = 2;
        b.next_message(&mut pos, 2, &mut out);
        assert_eq!(out, [3, 1]);
    }
}
