//! The wire log of a case: octets and frames in and out, timers, in the order they happened,
//! written in the original's report format.

use super::limits::MAX_WIRELOG;
use super::pyjson::{ascii_log_head, bin_log_head, J};

/// Length and the first 64 octets of some data (all a log line shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub len: usize,
    pub head: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Wire {
    RxOctets(Head),
    TxOctets(Head, bool),
    RxFrame {
        payload: Head,
        opcode: u8,
        fin: bool,
        rsv: u8,
        mask: Option<[u8; 4]>,
    },
    TxFrame {
        payload: Head,
        opcode: u8,
        fin: bool,
        rsv: u8,
        mask: Option<[u8; 4]>,
        repeat_len: Option<usize>,
        chop: Option<usize>,
        sync: bool,
    },
    /// A delayed step was armed / fired.
    Later {
        delay: f64,
        tag: Option<String>,
    },
    LaterFired(Option<String>),
    KillAfter(f64),
    Killing,
    CloseAfter(f64),
    Closing,
    /// The wire log was switched on or off.
    Marker(bool),
}

impl Wire {
    pub fn head(len: usize, data: &[u8]) -> Head {
        Head {
            len,
            head: data[..data.len().min(64)].to_vec(),
        }
    }
    pub fn rx_octets(data: &[u8]) -> Wire {
        Wire::RxOctets(Wire::head(data.len(), data))
    }
    pub fn tx_octets(len: usize, data: &[u8], sync: bool) -> Wire {
        Wire::TxOctets(Wire::head(len, data), sync)
    }

    pub fn to_json(&self) -> J {
        let hex = |m: &Option<[u8; 4]>| {
            J::from(m.map(|m| m.iter().map(|b| format!("{b:02x}")).collect::<String>()))
        };
        let tag = |t: &Option<String>| J::from(t.clone());
        match self {
            Wire::RxOctets(h) => J::Arr(vec![
                "RO".into(),
                J::Arr(vec![h.len.into(), bin_log_head(h.len, &h.head).into()]),
            ]),
            Wire::TxOctets(h, sync) => J::Arr(vec![
                "TO".into(),
                J::Arr(vec![h.len.into(), bin_log_head(h.len, &h.head).into()]),
                (*sync).into(),
            ]),
            Wire::RxFrame {
                payload,
                opcode,
                fin,
                rsv,
                mask,
            } => J::Arr(vec![
                "RF".into(),
                J::Arr(vec![
                    payload.len.into(),
                    ascii_log_head(payload.len, &payload.head),
                ]),
                (*opcode).into(),
                (*fin).into(),
                (*rsv).into(),
                mask.is_some().into(),
                hex(mask),
            ]),
            Wire::TxFrame {
                payload,
                opcode,
                fin,
                rsv,
                mask,
                repeat_len,
                chop,
                sync,
            } => J::Arr(vec![
                "TF".into(),
                J::Arr(vec![
                    payload.len.into(),
                    ascii_log_head(payload.len, &payload.head),
                ]),
                (*opcode).into(),
                (*fin).into(),
                (*rsv).into(),
                hex(mask),
                (*repeat_len).into(),
                (*chop).into(),
                (*sync).into(),
            ]),
            Wire::Later { delay, tag: t } => J::Arr(vec!["CT".into(), (*delay).into(), tag(t)]),
            Wire::LaterFired(t) => J::Arr(vec!["CTE".into(), tag(t)]),
            Wire::KillAfter(d) => J::Arr(vec!["KL".into(), (*d).into()]),
            Wire::Killing => J::Arr(vec!["KLE".into()]),
            Wire::CloseAfter(d) => J::Arr(vec!["TI".into(), (*d).into()]),
            Wire::Closing => J::Arr(vec!["TIE".into()]),
            Wire::Marker(on) => J::Arr(vec!["WLM".into(), (*on).into()]),
        }
    }
}

/// Entries plus the switch: octet and frame lines are only kept while it is on; timer lines
/// always are (as in the original). At most [`MAX_WIRELOG`] lines are kept; the rest are
/// counted in `dropped`.
#[derive(Clone, Debug, Default)]
pub struct Wirelog {
    pub on: bool,
    pub entries: Vec<Wire>,
    pub dropped: u64,
}

impl Wirelog {
    pub fn push(&mut self, f: impl FnOnce() -> Wire) {
        if self.on {
            self.keep(f);
        }
    }

    pub fn always(&mut self, w: Wire) {
        self.keep(|| w);
    }

    fn keep(&mut self, f: impl FnOnce() -> Wire) {
        if self.entries.len() < MAX_WIRELOG {
            self.entries.push(f());
        } else {
            self.dropped += 1;
        }
    }

    pub fn to_json(&self) -> J {
        J::Arr(self.entries.iter().map(Wire::to_json).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_limit_are_counted_not_kept() {
        let mut w = Wirelog {
            on: true,
            ..Wirelog::default()
        };
        for _ in 0..MAX_WIRELOG + 3 {
            w.push(|| Wire::rx_octets(b"x"));
        }
        w.always(Wire::Closing);
        assert_eq!((w.entries.len(), w.dropped), (MAX_WIRELOG, 4));
    }
}
