//! Who a sign-in request signed in, for the gate's activity record of it. Sign-in routes need no
//! credential, so the gate cannot know the caller before the handler runs; the services note
//! the principal here when they issue its tokens (or hand a CLI its code), and the gate reads
//! the note once the handler has answered.

use casemate_store::PrincipalRecord;
use std::cell::RefCell;
use std::future::Future;
use uuid::Uuid;

/// The principal a request signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub principal_id: Uuid,
    pub name: String,
}

tokio::task_local! {
    static SIGNED_IN: RefCell<Option<SignedIn>>;
}

/// Runs `work` (a sign-in route's handler), and says whom it signed in, if anyone.
pub async fn noting_sign_in<F: Future>(work: F) -> (F::Output, Option<SignedIn>) {
    SIGNED_IN
        .scope(RefCell::new(None), async {
            let output = work.await;
            let signed_in = SIGNED_IN.with(|noted| noted.borrow_mut().take());
            (output, signed_in)
        })
        .await
}

/// Notes that the request signed `principal` in; outside a sign-in route, nothing is noted.
pub(crate) fn note_signed_in(principal: &PrincipalRecord) {
    note_signed_in_as(principal.id, &principal.name);
}

/// As [`note_signed_in`], by the principal's id and name.
pub(crate) fn note_signed_in_as(principal_id: Uuid, name: &str) {
    let signed_in = SignedIn {
        principal_id,
        name: name.to_owned(),
    };
    let _outside_a_sign_in_route =
        SIGNED_IN.try_with(|noted| *noted.borrow_mut() = Some(signed_in));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> PrincipalRecord {
        PrincipalRecord {
            id: Uuid::new_v4(),
            kind: "user".into(),
            name: "ada".into(),
            display_name: "Ada".into(),
            enabled: true,
            created_at: 0,
            password_hash: None,
            client_id: None,
        }
    }

    #[tokio::test]
    async fn the_principal_noted_while_the_handler_runs_is_the_one_returned() {
        let principal = ada();
        let ((), noted) = noting_sign_in(async { note_signed_in(&principal) }).await;
        assert_eq!(
            noted,
            Some(SignedIn {
                principal_id: principal.id,
                name: "ada".into()
            })
        );
        let ((), nothing) = noting_sign_in(async {}).await;
        assert_eq!(nothing, None);
        // Outside a sign-in route the note goes nowhere, and nothing fails.
        note_signed_in(&principal);
    }
}
