//! A quiet connection, compacted: what carries over from one message to the next (settings,
//! frame rules, counters, the masking generator, compression contexts, a close status that
//! is not the default), without the buffers and queues of one in progress. A server keeps
//! its idle connections this way ([`crate::ws::park`]): about a third of a [`Connection`].

use std::collections::VecDeque;

use rand::rngs::SmallRng;

use super::close::Phase;
use super::{Assembly, CloseStatus, Config, Connection, Counters, Deflater, Inflater};
use crate::proto::decode::FrameDecoder;
use crate::proto::rules::RuleState;
use crate::proto::transmit::Transmit;

/// A [`Connection`] that was quiet ([`Connection::is_quiet`]) when it was put to sleep.
pub struct Dormant {
    cfg: Config,
    rules: Option<RuleState>,
    counters: Counters,
    rng: SmallRng,
    mask: bool,
    record_payload: bool,
    deflater: Option<Box<Deflater>>,
    inflater: Option<Box<Inflater>>,
    /// `None` while it is the default (an open connection's, as a rule).
    status: Option<Box<CloseStatus>>,
}

impl Connection {
    /// Put a quiet connection to sleep; a connection that is not quiet comes back as it is
    /// (boxed: the rare case pays for the move, not every call).
    pub fn into_dormant(self) -> Result<Dormant, Box<Connection>> {
        if !self.is_quiet() {
            return Err(Box::new(self));
        }
        let status = (self.status != CloseStatus::default()).then(|| Box::new(self.status));
        Ok(Dormant {
            rules: self.decoder.rules().cloned(),
            cfg: self.cfg,
            counters: self.counters,
            rng: self.rng,
            mask: self.mask,
            record_payload: self.record_payload,
            deflater: self.deflater,
            inflater: self.inflater,
            status,
        })
    }

    /// Wake a connection put to sleep: as it was, quiet and open.
    pub fn from_dormant(d: Dormant) -> Connection {
        Connection {
            phase: Phase::Open,
            decoder: match d.rules {
                Some(r) => FrameDecoder::new(r),
                None => FrameDecoder::lenient(),
            },
            msg: Assembly::default(),
            ctrl: Vec::new(),
            current: None,
            events: VecDeque::new(),
            tx: Transmit::default(),
            status: d.status.map(|s| *s).unwrap_or_default(),
            counters: d.counters,
            rng: d.rng,
            mask: d.mask,
            record_payload: d.record_payload,
            deflater: d.deflater,
            inflater: d.inflater,
            scratch: Vec::new(),
            cfg: d.cfg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::encode_frame;
    use crate::proto::{Event, OpCode, Role};

    fn masked(op: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        encode_frame(&mut f, fin, 0, op, Some([9, 8, 7, 6]), payload);
        f
    }

    /// Asleep and awake again between messages, a connection goes on exactly as one that
    /// never slept: same events, same octets out, same counters; one that is not quiet
    /// (inside a fragmented message) is refused.
    #[test]
    fn a_connection_wakes_as_it_was() {
        let now = std::time::Instant::now();
        let mut slept = Connection::with_seed(Config::new(Role::Server), 7);
        let mut awake = Connection::with_seed(Config::new(Role::Server), 7);
        let msgs = [
            masked(OpCode::TEXT, true, b"hello"),
            masked(OpCode::PING, true, b"p"),
        ];
        for m in &msgs {
            for c in [&mut slept, &mut awake] {
                c.handle_input_all(&mut m.clone(), now, |c, ev| {
                    if let Event::Message(m) = ev {
                        c.send_message_owned(m.binary, m.data);
                    }
                });
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            while slept.has_transmit() {
                slept.take_transmit(&mut a);
            }
            while awake.has_transmit() {
                awake.take_transmit(&mut b);
            }
            assert_eq!(a, b);
            slept = Connection::from_dormant(slept.into_dormant().ok().expect("quiet"));
        }
        assert_eq!(slept.counters(), awake.counters());
        assert!(
            std::mem::size_of::<Dormant>() <= 240,
            "{}",
            std::mem::size_of::<Dormant>()
        );
        // Not quiet: the first fragment of a message.
        let mut first = masked(OpCode::TEXT, false, b"a");
        slept.handle_input_all(&mut first, now, |_, _| {});
        assert!(slept.into_dormant().is_err());
    }
}
