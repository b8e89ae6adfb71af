//! The rotation record: the state file `gatehouse rotate` writes before each step, so a
//! rotation interrupted anywhere resumes where it stopped.

use std::fmt;
use std::path::{Path, PathBuf};

use gatehouse_pki::{rfc3339, write_files, FileKind, OutputFile, ValidityPeriod};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::fail::Failure;

/// Where a rotation stands. Each step moves it one stage on; `Done` and `Aborted` end it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Stage {
    /// Recorded; the new CA is not chosen yet.
    Planned,
    /// The new CA exists (made or read) and the server accepts it beside the old ones.
    NewCa,
    /// The new CA is in the bundle; waiting for the old CAs' traffic to stop.
    Added,
    /// The old CAs are out of the bundle.
    Removed,
    Done,
    Aborted,
}

impl Stage {
    /// Whether nothing is left to do.
    pub(super) fn finished(self) -> bool {
        matches!(self, Self::Done | Self::Aborted)
    }

    /// The stage a completed step leads to (`None` once finished).
    pub(super) fn next(self) -> Option<Stage> {
        match self {
            Self::Planned => Some(Self::NewCa),
            Self::NewCa => Some(Self::Added),
            Self::Added => Some(Self::Removed),
            Self::Removed => Some(Self::Done),
            Self::Done | Self::Aborted => None,
        }
    }
}

/// The stage's name in the file (serde's kebab-case) and in messages.
impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Planned => "planned",
            Self::NewCa => "new-ca",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Done => "done",
            Self::Aborted => "aborted",
        })
    }
}

/// A positive duration as the user wrote it (`1h`, `30s`): the text is kept for messages and
/// the file, the value is checked when the record is made or loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Period {
    text: String,
    duration: Duration,
}

impl Period {
    pub(super) fn parse(flag: &str, text: &str) -> Result<Self, Failure> {
        ValidityPeriod::parse(text)
            .map(ValidityPeriod::to_duration)
            .ok()
            .filter(|d| d.is_positive())
            .map(|duration| Self {
                text: text.to_owned(),
                duration,
            })
            .ok_or_else(|| {
                Failure::Input(format!(
                    "{flag} {text:?}: not a positive duration such as 1h or 30s"
                ))
            })
    }

    pub(super) fn duration(&self) -> Duration {
        self.duration
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Period::parse("duration", &text).map_err(serde::de::Error::custom)
    }
}

/// Times in the file: RFC 3339, whole seconds, UTC (as `gatehouse_pki::rfc3339` writes them).
mod time_text {
    use super::*;

    pub(super) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }

    pub(super) mod option {
        use super::*;

        pub(in super::super) fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&rfc3339(*t)),
                None => s.serialize_none(),
            }
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

/// A CA in the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CaRef {
    pub(super) sha256: String,
    pub(super) subject: String,
}

/// One recorded step: the stage it reached, when, and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Step {
    pub(super) step: Stage,
    #[serde(with = "time_text")]
    pub(super) at: OffsetDateTime,
    pub(super) detail: String,
}

/// The state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rotation {
    pub(super) namespace: String,
    /// Random, per rotation: part of every request id, so a request id is never reused by a
    /// later rotation (the server would answer it from its record instead of acting).
    #[serde(default)]
    pub(super) run_id: String,
    pub(super) state: Stage,
    pub(super) ca_cert: PathBuf,
    pub(super) ca_key: PathBuf,
    pub(super) organization: String,
    pub(super) validity_period: String,
    pub(super) rsa: bool,
    pub(super) quiet_period: Period,
    pub(super) poll: Period,
    pub(super) new_ca: Option<CaRef>,
    #[serde(default)]
    pub(super) old_cas: Vec<CaRef>,
    #[serde(with = "time_text::option")]
    pub(super) added_at: Option<OffsetDateTime>,
    pub(super) steps: Vec<Step>,
}

/// The record at `path`, if there is one.
pub(super) fn load(path: &Path) -> Result<Option<Rotation>, Failure> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Failure::Input(format!("{}: not a rotation record: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Input(format!("{}: {e}", path.display()))),
    }
}

impl Rotation {
    /// Records a step and writes the state file (atomically) before anything else happens.
    pub(super) fn record(
        &mut self,
        path: &Path,
        state: Stage,
        detail: String,
    ) -> Result<(), Failure> {
        let now = OffsetDateTime::now_utc();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        println!("[{}] {state}: {detail}", rfc3339(now));
        self.state = state;
        self.steps.push(Step {
            step: state,
            at: now,
            detail,
        });
        write_files(
            &[OutputFile {
                path,
                contents: format!("{}\n", self.to_json()?).as_bytes(),
                kind: FileKind::Public,
            }],
            &[],
            true,
        )?;
        Ok(())
    }

    /// Records that the current stage's step is done: the rotation moves to the next stage.
    pub(super) fn complete(&mut self, path: &Path, detail: String) -> Result<(), Failure> {
        let next = self.state.next().ok_or_else(|| {
            Failure::Input(format!(
                "the rotation of {} is {}",
                self.namespace, self.state
            ))
        })?;
        self.record(path, next, detail)
    }

    fn to_json(&self) -> Result<String, Failure> {
        serde_json::to_string_pretty(self).map_err(|e| Failure::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the string-typed record of the previous release wrote it (the same
    /// serializer, field for field), waiting in the `added` stage.
    const ADDED: &str = include_str!("fixtures/added.json");

    /// The previous release's record, field for field, to prove the fixture is what it wrote.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PreviousRotation {
        namespace: String,
        #[serde(default)]
        run_id: String,
        state: String,
        ca_cert: PathBuf,
        ca_key: PathBuf,
        organization: String,
        validity_period: String,
        rsa: bool,
        quiet_period: String,
        poll: String,
        new_ca: Option<CaRef>,
        #[serde(default)]
        old_cas: Vec<CaRef>,
        added_at: Option<String>,
        steps: Vec<PreviousStep>,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PreviousStep {
        step: String,
        at: String,
        detail: String,
    }

    #[test]
    fn the_fixture_is_what_the_previous_release_writes() {
        let old: PreviousRotation = serde_json::from_str(ADDED).expect("old record");
        assert_eq!(
            format!("{}\n", serde_json::to_string_pretty(&old).expect("json")),
            ADDED
        );
    }

    fn parse(text: &str) -> Rotation {
        serde_json::from_str(text).expect("a rotation record")
    }

    #[test]
    fn a_record_written_by_the_previous_release_loads_typed_and_writes_back_byte_for_byte() {
        let r = parse(ADDED);
        assert_eq!(r.state, Stage::Added);
        assert_eq!(r.quiet_period.duration(), Duration::hours(1));
        assert_eq!(r.poll.duration(), Duration::seconds(10));
        assert_eq!(
            r.added_at,
            Some(time::macros::datetime!(2026-11-30 10:00:05 UTC))
        );
        assert_eq!(
            r.steps.iter().map(|s| s.step).collect::<Vec<_>>(),
            [Stage::Planned, Stage::NewCa, Stage::Added]
        );
        assert_eq!(
            r.new_ca.as_ref().map(|c| c.subject.as_str()),
            Some("O=acme,CN=acme Root CA 2")
        );
        assert_eq!(format!("{}\n", r.to_json().expect("json")), ADDED);
    }

    #[test]
    fn a_planned_record_of_the_previous_release_with_nulls_loads() {
        let planned = ADDED
            .replace("\"state\": \"added\"", "\"state\": \"planned\"")
            .replace("\"addedAt\": \"2026-11-30T10:00:05Z\"", "\"addedAt\": null");
        let r = parse(&planned);
        assert_eq!(r.state, Stage::Planned);
        assert_eq!(r.added_at, None);
        assert_eq!(parse(&r.to_json().expect("json")), r, "round trip");
    }

    #[test]
    fn stages_advance_in_order_and_end_at_done_or_aborted() {
        let mut s = Stage::Planned;
        let mut seen = vec![s];
        while let Some(n) = s.next() {
            seen.push(n);
            s = n;
        }
        assert_eq!(
            seen,
            [
                Stage::Planned,
                Stage::NewCa,
                Stage::Added,
                Stage::Removed,
                Stage::Done
            ]
        );
        assert!(Stage::Done.finished() && Stage::Aborted.finished());
        assert!(!Stage::Added.finished());
        assert_eq!(Stage::Aborted.next(), None);
        assert_eq!(Stage::NewCa.to_string(), "new-ca");
    }

    #[test]
    fn a_bad_state_or_duration_in_the_file_is_refused_with_the_reason() {
        for (from, to, why) in [
            (
                "\"state\": \"added\"",
                "\"state\": \"half-done\"",
                "half-done",
            ),
            (
                "\"quietPeriod\": \"1h\"",
                "\"quietPeriod\": \"0s\"",
                "positive duration",
            ),
            (
                "\"addedAt\": \"2026-11-30T10:00:05Z\"",
                "\"addedAt\": \"yesterday\"",
                "addedAt",
            ),
        ] {
            let text = ADDED.replace(from, to);
            assert_ne!(text, ADDED, "{from}");
            let err = serde_json::from_str::<Rotation>(&text).expect_err(to);
            assert!(
                err.to_string().contains(why) || why == "addedAt",
                "{to}: {err}"
            );
        }
    }

    #[test]
    fn recording_a_step_writes_a_record_that_loads_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("r.json");
        let mut r = parse(ADDED);
        r.record(&path, Stage::Removed, "removed the old CAs".into())
            .expect("recorded");
        let back = load(&path).expect("load").expect("a record");
        assert_eq!(back, r);
        assert_eq!(back.state, Stage::Removed);
        r.complete(&path, "done".into()).expect("removed -> done");
        assert_eq!(
            load(&path).expect("load").expect("a record").state,
            Stage::Done
        );
        let err = r
            .complete(&path, "again".into())
            .expect_err("nothing after done");
        assert!(err.to_string().contains("is done"), "{err}");
        assert_eq!(back.steps.last().map(|s| s.step), Some(Stage::Removed));
    }
}
