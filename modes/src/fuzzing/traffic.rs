//! Traffic statistics of a case (`trafficStats` in the per-case report of the compression
//! cases): octets of data messages at three levels (on the wire, WebSocket payload as sent,
//! application data before compression), frames and messages, each direction, counted while
//! the connection is open; plus the opening handshake's octets.

use super::pyjson::{obj, J};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Direction {
    /// Every octet written or read while open (control frames too).
    pub wire: u64,
    /// Data frame payload octets (compressed where compressed).
    pub websocket: u64,
    /// Data message octets before compression / after decompression.
    pub app: u64,
    pub frames: u64,
    pub messages: u64,
    /// Octets before the connection was open (the opening handshake).
    pub preopen_wire: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficStats {
    pub outgoing: Direction,
    pub incoming: Direction,
}

fn ratio(num: u64, den: u64) -> J {
    if den > 0 {
        J::Float(num as f64 / den as f64)
    } else {
        J::Null
    }
}

fn overhead(d: &Direction) -> J {
    if d.websocket > 0 {
        J::Float((d.wire as f64 - d.websocket as f64) / d.websocket as f64)
    } else {
        J::Null
    }
}

impl TrafficStats {
    /// Compressed size over uncompressed size.
    pub fn compression_ratios(&self) -> (Option<f64>, Option<f64>) {
        let r = |d: &Direction| (d.app > 0).then(|| d.websocket as f64 / d.app as f64);
        (r(&self.incoming), r(&self.outgoing))
    }

    pub fn to_json(&self) -> J {
        let (i, o) = (&self.incoming, &self.outgoing);
        obj(vec![
            ("incomingCompressionRatio", ratio(i.websocket, i.app)),
            ("incomingOctetsAppLevel", i.app.into()),
            ("incomingOctetsWebSocketLevel", i.websocket.into()),
            ("incomingOctetsWireLevel", i.wire.into()),
            ("incomingWebSocketFrames", i.frames.into()),
            ("incomingWebSocketMessages", i.messages.into()),
            ("incomingWebSocketOverhead", overhead(i)),
            ("outgoingCompressionRatio", ratio(o.websocket, o.app)),
            ("outgoingOctetsAppLevel", o.app.into()),
            ("outgoingOctetsWebSocketLevel", o.websocket.into()),
            ("outgoingOctetsWireLevel", o.wire.into()),
            ("outgoingWebSocketFrames", o.frames.into()),
            ("outgoingWebSocketMessages", o.messages.into()),
            ("outgoingWebSocketOverhead", overhead(o)),
            ("preopenIncomingOctetsWireLevel", i.preopen_wire.into()),
            ("preopenOutgoingOctetsWireLevel", o.preopen_wire.into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_json() {
        let t = TrafficStats {
            outgoing: Direction {
                wire: 150,
                websocket: 100,
                app: 400,
                frames: 2,
                messages: 2,
                preopen_wire: 200,
            },
            incoming: Direction::default(),
        };
        assert_eq!(t.compression_ratios(), (None, Some(0.25)));
        let s = super::super::pyjson::to_string(&t.to_json());
        assert!(s.contains("\"outgoingCompressionRatio\": 0.25"), "{s}");
        assert!(s.contains("\"outgoingWebSocketOverhead\": 0.5"), "{s}");
        assert!(s.contains("\"incomingCompressionRatio\": null"), "{s}");
    }
}
