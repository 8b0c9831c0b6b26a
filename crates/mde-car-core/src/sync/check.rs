//! Test connection's question for each data type besides devices: can it be read? The answers
//! use the sync's words for a failing stage, and a 404 is remembered as a run remembers it, so
//! a test is also how the user makes the sync ask again at once.

use super::{Stage, cause};
use crate::{
    config::DataSelection,
    mde::{GRAPH_HUNTING_ROLE, HuntingApi, MdeClient, MdeError},
    model::{DataCheck, DataKind, DataState},
    store::Availability,
};

impl Stage {
    fn of_data(data: DataKind) -> Stage {
        match data {
            DataKind::Alerts => Stage::Alerts,
            DataKind::IpHistory => Stage::IpHistory,
            DataKind::LoggedOnUsers => Stage::LoggedOnUsers,
            DataKind::Vulnerabilities => Stage::Vulnerabilities,
        }
    }
}

const ALL: [DataKind; 4] = [
    DataKind::Alerts,
    DataKind::IpHistory,
    DataKind::LoggedOnUsers,
    DataKind::Vulnerabilities,
];

/// One small call per selected data type (see [`MdeClient::sample`]); the others are
/// reported as not selected. Calls go one after another: they share the connection's budgets.
pub(crate) async fn check_data(client: &MdeClient, selection: DataSelection) -> Vec<DataCheck> {
    let mut checks = Vec::with_capacity(ALL.len());
    for data in ALL {
        let stage = Stage::of_data(data);
        if !stage.is_selected(selection) {
            checks.push(DataCheck {
                data,
                state: DataState::NotSelected,
                detail: String::new(),
            });
            continue;
        }
        checks.push(match client.sample(data).await {
            Ok(()) => DataCheck {
                data,
                state: DataState::Available,
                detail: String::new(),
            },
            Err(error) => failed_check(data, stage, &error),
        });
    }
    checks
}

/// Which advanced-hunting API the sync will use and why, in one sentence, when IP history or
/// logged-on users are selected (after [`check_data`], whose samples decided it).
pub(crate) async fn hunting_note(client: &MdeClient, selection: DataSelection) -> Option<String> {
    let hunts = [DataKind::IpHistory, DataKind::LoggedOnUsers]
        .into_iter()
        .any(|data| Stage::of_data(data).is_selected(selection));
    if !hunts {
        return None;
    }
    Some(match client.hunting_api().await.ok()? {
        HuntingApi::Graph => format!(
            "Advanced hunting goes to Microsoft Graph: the app holds {GRAPH_HUNTING_ROLE}."
        ),
        HuntingApi::GraphLegacyRetired => {
            "Advanced hunting goes to Microsoft Graph: the legacy Defender API answered that it is retired.".to_owned()
        }
        HuntingApi::LegacyWithoutGraphRole => format!(
            "Advanced hunting goes to the legacy Defender API: the app lacks the Microsoft Graph permission {GRAPH_HUNTING_ROLE}; grant it before the legacy API stops working (February 2027)."
        ),
        HuntingApi::LegacyWithoutGraphToken => {
            "Advanced hunting goes to the legacy Defender API: no Microsoft Graph token could be had.".to_owned()
        }
        HuntingApi::LegacyGraphForbidden => format!(
            "Advanced hunting goes to the legacy Defender API: Microsoft Graph refused it although the app holds {GRAPH_HUNTING_ROLE}."
        ),
    })
}

fn failed_check(data: DataKind, stage: Stage, error: &MdeError) -> DataCheck {
    let state = match error {
        MdeError::Forbidden { .. } => DataState::MissingPermission,
        _ if Stage::lasting_cause(error).is_some() => DataState::NotOffered,
        _ => DataState::Failed,
    };
    let mut detail = if state == DataState::NotOffered {
        format!(
            "{error}: {}. The sync leaves it alone for a day and then asks again (a test asks at once); turn it off in Edit if it never will.",
            stage.likely_absence()
        )
    } else {
        let (why, next) = cause(stage, error);
        format!("{why}; {next}.")
    };
    if let Some(first) = detail.get(..1) {
        detail = first.to_uppercase() + &detail[1..];
    }
    DataCheck {
        data,
        state,
        detail,
    }
}

/// What a test's checks say for the store: a data type read is available again, one not
/// offered is remembered (with the test's words); anything else leaves the memory as it was.
pub(crate) fn availability_answers(checks: &[DataCheck]) -> Vec<(String, Availability)> {
    checks
        .iter()
        .filter_map(|check| {
            let kind = Stage::of_data(check.data).kind().to_owned();
            match check.state {
                DataState::Available => Some((kind, Availability::Available)),
                DataState::NotOffered => Some((
                    kind,
                    Availability::Unavailable {
                        reason: check.detail.clone(),
                    },
                )),
                DataState::NotSelected | DataState::MissingPermission | DataState::Failed => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::{store::Unavailable, sync::not_asked_again};

    fn at(text: &str) -> crate::model::Timestamp {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn remembered(kind: &str, checked_at: &str) -> Unavailable {
        Unavailable {
            kind: kind.to_owned(),
            reason: "404".to_owned(),
            since: at("2026-11-01T00:00:00Z"),
            checked_at: at(checked_at),
        }
    }

    #[test]
    fn a_remembered_answer_is_left_alone_for_a_day_and_only_while_the_data_is_selected() {
        let now = at("2026-12-02T12:00:00Z");
        let known = [
            remembered("vulnerabilities", "2026-12-02T00:00:00Z"),
            // A day old: asked again.
            remembered("alerts", "2026-12-01T12:00:00Z"),
            // Dated in the future (the clock jumped back): asked again, not left alone for as
            // long as the clock is behind.
            remembered("network", "2027-06-01T00:00:00Z"),
            // Turned off: nothing to skip.
            remembered("logons", "2026-12-02T11:00:00Z"),
            // A kind this version does not know.
            remembered("sightings", "2026-12-02T11:00:00Z"),
        ];
        let selection = DataSelection {
            logged_on_users: false,
            ..DataSelection::default()
        };
        let skipped: Vec<String> = not_asked_again(&known, selection, now)
            .into_iter()
            .map(|u| u.kind)
            .collect();
        assert_eq!(skipped, ["vulnerabilities"]);
        let later = now + Duration::days(1);
        assert!(not_asked_again(&known, selection, later).is_empty());
    }

    #[test]
    fn only_a_404_is_taken_for_lasting() {
        let not_found = MdeError::Api {
            status: 404,
            code: Some("ResourceNotFound".to_owned()),
            message: "gone".to_owned(),
        };
        let check = failed_check(
            DataKind::Vulnerabilities,
            Stage::Vulnerabilities,
            &not_found,
        );
        assert_eq!(check.state, DataState::NotOffered);
        assert!(
            check.detail.starts_with("Defender answered 404") && check.detail.contains("licence"),
            "{}",
            check.detail
        );
        let forbidden = MdeError::Forbidden {
            required: vec!["Alert.Read.All".to_owned()],
            message: String::new(),
        };
        let check = failed_check(DataKind::Alerts, Stage::Alerts, &forbidden);
        assert_eq!(check.state, DataState::MissingPermission);
        assert!(check.detail.contains("Alert.Read.All"), "{}", check.detail);
        let busy = MdeError::Api {
            status: 503,
            code: None,
            message: "busy".to_owned(),
        };
        assert_eq!(
            failed_check(DataKind::Alerts, Stage::Alerts, &busy).state,
            DataState::Failed
        );
        let checks = [
            failed_check(
                DataKind::Vulnerabilities,
                Stage::Vulnerabilities,
                &not_found,
            ),
            failed_check(DataKind::Alerts, Stage::Alerts, &busy),
            DataCheck {
                data: DataKind::IpHistory,
                state: DataState::Available,
                detail: String::new(),
            },
        ];
        let answers = availability_answers(&checks);
        assert_eq!(answers.len(), 2, "a 503 says nothing lasting: {answers:?}");
        assert!(
            matches!(answers[0], (ref kind, Availability::Unavailable { .. }) if kind == "vulnerabilities")
        );
        assert_eq!(answers[1], ("network".to_owned(), Availability::Available));
    }
}
