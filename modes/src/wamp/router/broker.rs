//! The Broker: SUBSCRIBE, UNSUBSCRIBE, PUBLISH → EVENT (and PUBLISHED).

use std::collections::BTreeSet;

use rmpv::Value;

use super::super::message::{dict, dict_get, Dict, Message, MsgType, Payload};
use super::super::uri;
use super::{bool_opt, ConnId, Output, Phase, Realm, Router, Subscription};

impl Router {
    /// PUBLISH, SUBSCRIBE or UNSUBSCRIBE from an established session in `realm`.
    pub(super) fn broker(&mut self, conn: ConnId, realm: &str, m: Message, out: &mut Vec<Output>) {
        use Message::*;
        match m {
            Publish {
                request,
                options,
                topic,
                payload,
            } => self.publish(conn, realm, request, &options, topic, payload, out),
            Subscribe {
                request,
                options,
                topic,
            } => self.subscribe(conn, realm, request, &options, topic, out),
            Unsubscribe {
                request,
                subscription,
            } => {
                let owned = self
                    .conns
                    .get_mut(&conn)
                    .is_some_and(|c| c.subscriptions.remove(&subscription));
                if owned {
                    if let Some(r) = self.realms.get_mut(realm) {
                        r.unsubscribe(subscription, conn);
                    }
                    self.send(out, conn, Unsubscribed { request });
                } else {
                    let text = format!("no subscription {subscription} of this session");
                    self.error(
                        out,
                        conn,
                        MsgType::UNSUBSCRIBE,
                        request,
                        uri::NO_SUCH_SUBSCRIPTION,
                        &text,
                    );
                }
            }
            // `Router::established` sends only the types above here.
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn publish(
        &mut self,
        conn: ConnId,
        realm: &str,
        request: u64,
        options: &Dict,
        topic: String,
        payload: Payload,
        out: &mut Vec<Output>,
    ) {
        let ack = bool_opt(options, "acknowledge") == Some(true);
        if let Some(text) = uri::refusal("topic", &topic, true) {
            if ack {
                self.error(
                    out,
                    conn,
                    MsgType::PUBLISH,
                    request,
                    uri::INVALID_URI,
                    &text,
                );
            }
            return;
        }
        self.stats.publications += 1;
        let publication = self.random_id();
        let exclude_me = bool_opt(options, "exclude_me").unwrap_or(true);
        let details = match (
            bool_opt(options, "disclose_me"),
            &self.conns.get(&conn).map(|c| &c.phase),
        ) {
            (Some(true), Some(Phase::Established { session, .. })) => {
                dict([("publisher", Value::from(*session))])
            }
            _ => vec![],
        };
        let targets: Vec<(ConnId, u64)> = self
            .realms
            .get(realm)
            .and_then(|r| {
                let id = *r.topics.get(&topic)?;
                let s = r.subscriptions.get(&id)?;
                Some(
                    s.subscribers
                        .iter()
                        .filter(|&&c| !(exclude_me && c == conn))
                        .map(|&c| (c, id))
                        .collect(),
                )
            })
            .unwrap_or_default();
        for (to, subscription) in targets {
            let ev = Message::Event {
                subscription,
                publication,
                details: details.clone(),
                payload: payload.clone(),
            };
            self.send(out, to, ev);
        }
        if ack {
            self.send(
                out,
                conn,
                Message::Published {
                    request,
                    publication,
                },
            );
        }
    }

    fn subscribe(
        &mut self,
        conn: ConnId,
        realm: &str,
        request: u64,
        options: &Dict,
        topic: String,
        out: &mut Vec<Output>,
    ) {
        if let Some(text) = uri::refusal("topic", &topic, false) {
            return self.error(
                out,
                conn,
                MsgType::SUBSCRIBE,
                request,
                uri::INVALID_URI,
                &text,
            );
        }
        if let Some(m) = dict_get(options, "match").filter(|m| m.as_str() != Some("exact")) {
            let text = format!("match policy {m} is not supported (exact only)");
            return self.error(
                out,
                conn,
                MsgType::SUBSCRIBE,
                request,
                "wamp.error.invalid_argument",
                &text,
            );
        }
        let fresh = self.unused_id(|me, id| {
            me.realms
                .get(realm)
                .is_some_and(|r| r.subscriptions.contains_key(&id))
        });
        let Some(r) = self.realms.get_mut(realm) else {
            return;
        };
        let id = *r.topics.entry(topic.clone()).or_insert(fresh);
        r.subscriptions
            .entry(id)
            .or_insert_with(|| Subscription {
                topic,
                subscribers: BTreeSet::new(),
            })
            .subscribers
            .insert(conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.subscriptions.insert(id);
        }
        self.send(
            out,
            conn,
            Message::Subscribed {
                request,
                subscription: id,
            },
        );
    }
}

impl Realm {
    pub(super) fn unsubscribe(&mut self, id: u64, conn: ConnId) {
        if let Some(s) = self.subscriptions.get_mut(&id) {
            s.subscribers.remove(&conn);
            if s.subscribers.is_empty() {
                let topic = std::mem::take(&mut s.topic);
                self.subscriptions.remove(&id);
                self.topics.remove(&topic);
            }
        }
    }
}
