//! The results of a fuzzing run on disk: per-case JSON and HTML written as each case ends,
//! `index.json` and `index.html` rewritten from all results known for the output directory
//! (earlier runs included: they are reloaded from `index.json` at start). Every file is
//! written atomically, and the index as each case ends (`index.json` every time, the page at
//! most every [`PAGE_EVERY`]), so a run killed at any moment leaves a valid index of the
//! cases done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::case::{id_tuple, Behavior, Case};
use super::html;
use super::pyjson;
use super::result::{CaseResult, Summary};
use crate::report::write_atomic;
use crate::{ModeError, Result};

/// Static information about cases for the index page.
#[derive(Clone, Debug)]
pub struct CaseInfo {
    pub id: String,
    pub description: String,
    pub expectation: String,
}

/// The index page is rewritten at most this often while a run goes on (it is larger than
/// index.json and built for people; the last one is written when the run ends).
pub const PAGE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// What the index keeps of each case of the suite.
pub fn case_infos(all: &[Case]) -> Vec<CaseInfo> {
    all.iter()
        .map(|c| CaseInfo {
            id: c.id.clone(),
            description: c.description.clone(),
            expectation: c.expectation.clone(),
        })
        .collect()
}

pub struct Store {
    pub outdir: PathBuf,
    /// agent → case id → summary
    pub agents: BTreeMap<String, BTreeMap<String, Summary>>,
    pub cases: Vec<CaseInfo>,
    /// When index.html was last written.
    page_written: Option<Instant>,
}

impl Store {
    /// Open `outdir`, reloading the summaries of earlier runs from its index.json.
    pub fn open(outdir: &Path, cases: Vec<CaseInfo>) -> Result<Store> {
        std::fs::create_dir_all(outdir).map_err(|e| {
            ModeError::io(
                format!("cannot create report directory {}", outdir.display()),
                e,
            )
        })?;
        let mut agents = BTreeMap::new();
        let index = outdir.join("index.json");
        if let Ok(text) = std::fs::read_to_string(&index) {
            match serde_json::from_str::<BTreeMap<String, BTreeMap<String, Summary>>>(&text) {
                Ok(a) => agents = a,
                Err(e) => log::warn!("ignoring unreadable {}: {e}", index.display()),
            }
        }
        for cases in agents.values_mut() {
            for s in cases.values_mut() {
                restore_details(outdir, s);
            }
        }
        Ok(Store {
            outdir: outdir.to_path_buf(),
            agents,
            cases,
            page_written: None,
        })
    }

    /// Record a finished case, write its two report files and bring the index up to date.
    pub fn add(&mut self, r: &CaseResult) -> Result<()> {
        let s = r.summary();
        let json = pyjson::to_string(&r.to_json());
        write_atomic(&self.outdir.join(&s.reportfile), json.as_bytes())?;
        let html_name = super::result::report_filename(&r.agent, &r.id, "html");
        write_atomic(&self.outdir.join(html_name), html::case_page(r).as_bytes())?;
        self.agents
            .entry(r.agent.clone())
            .or_default()
            .insert(r.id.clone(), s);
        if self.page_written.is_none_or(|t| t.elapsed() >= PAGE_EVERY) {
            self.write_page()?;
        }
        self.write_json()
    }

    pub fn has(&self, agent: &str, id: &str) -> Option<&Summary> {
        self.agents.get(agent).and_then(|m| m.get(id))
    }

    /// Rewrite index.json and index.html. The page first, index.json last: a reader that
    /// sees an agent in index.json finds its page too.
    pub fn write_index(&mut self) -> Result<()> {
        self.write_page()?;
        self.write_json()
    }

    fn write_page(&mut self) -> Result<()> {
        write_atomic(
            &self.outdir.join("index.html"),
            html::index_page(self).as_bytes(),
        )?;
        self.page_written = Some(Instant::now());
        Ok(())
    }

    fn write_json(&self) -> Result<()> {
        write_atomic(
            &self.outdir.join("index.json"),
            self.index_json_of(None).as_bytes(),
        )
    }

    /// index.json's text, of `agents` only when given.
    pub fn index_json_of(&self, agents: Option<&std::collections::BTreeSet<String>>) -> String {
        let mut root = Vec::new();
        for (agent, cases) in &self.agents {
            if agents.is_some_and(|a| !a.contains(agent)) {
                continue;
            }
            let mut ids: Vec<&String> = cases.keys().collect();
            ids.sort();
            let entries: Vec<(&str, pyjson::J)> = ids
                .iter()
                .map(|id| {
                    let s = &cases[*id];
                    (
                        id.as_str(),
                        pyjson::obj(vec![
                            ("behavior", s.behavior.as_str().into()),
                            ("behaviorClose", s.behavior_close.as_str().into()),
                            ("duration", s.duration.into()),
                            ("remoteCloseCode", s.remote_close_code.into()),
                            ("reportfile", s.reportfile.as_str().into()),
                        ]),
                    )
                })
                .collect();
            root.push((agent.as_str(), pyjson::obj(entries)));
        }
        pyjson::to_string(&pyjson::obj(root))
    }

    /// Counts of `behavior` and `behaviorClose` for one agent.
    pub fn counts(&self, agent: &str) -> (BTreeMap<Behavior, u64>, BTreeMap<Behavior, u64>) {
        let mut b = BTreeMap::new();
        let mut c = BTreeMap::new();
        if let Some(m) = self.agents.get(agent) {
            for s in m.values() {
                *b.entry(s.behavior).or_default() += 1;
                *c.entry(s.behavior_close).or_default() += 1;
            }
        }
        (b, c)
    }

    /// Case ids known for the index page, in order (every case of the suite).
    pub fn ordered_cases(&self) -> Vec<&CaseInfo> {
        let mut v: Vec<&CaseInfo> = self.cases.iter().collect();
        v.sort_by_key(|c| id_tuple(&c.id));
        v
    }
}

/// What index.json does not hold but the table shows (time and compression ratios), read
/// back from a reloaded case's own report; left out when that cannot be read.
fn restore_details(outdir: &Path, s: &mut Summary) {
    let Ok(text) = std::fs::read_to_string(outdir.join(&s.reportfile)) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    s.report_time = v["reportTime"].as_bool().unwrap_or(false);
    if let (Some(r), Some(c)) = (v["result"].as_str(), v["resultClose"].as_str()) {
        s.results = Some((r.to_string(), c.to_string()));
    }
    if v["reportCompressionRatio"].as_bool() == Some(true) && v["trafficStats"].is_object() {
        let t = &v["trafficStats"];
        s.ratios = Some((
            t["incomingCompressionRatio"].as_f64(),
            t["outgoingCompressionRatio"].as_f64(),
        ));
    }
}
