//! Every refusal of every aggregate, mapped once to the problem it is
//! answered with.
//!
//! Aggregates refuse commands with their own error types; use cases run
//! commands with `?` and the conversions here turn a refusal into an
//! [`AppError`] (through `From<CommandError<E>>` in `crate::error`). A use
//! case that answers a refusal differently on purpose (a used verification
//! code on a verified address is `invalid_code`, a resend to a verified
//! address is a silent success) matches it before `?` and says why.
//!
//! Each refusal is a 4xx with a stable code: a refusal is the domain saying
//! no to a valid request, never a fault of the service. The tests below
//! list every variant through an exhaustive `match`, so adding a variant
//! without deciding its answer does not compile.

use aggregates::influencer::ApplicationProblem;
use aggregates::{
    AuditError, ConversionError, InfluencerError, LedgerError, ReferralError, SessionError,
    UserError,
};
use chrono::{DateTime, Utc};

use crate::error::{AppError, FieldError};

fn conflict(code: &'static str, error: &impl ToString) -> AppError {
    AppError::Conflict {
        code,
        detail: error.to_string(),
    }
}

fn field(name: &str, code: &str, error: &impl ToString) -> AppError {
    AppError::Validation(vec![FieldError::new(name, code, error.to_string())])
}

/// How long until `until`, for `Retry-After`; zero once it has passed.
fn until_now(until: DateTime<Utc>) -> std::time::Duration {
    (until - Utc::now()).to_std().unwrap_or_default()
}

impl From<UserError> for AppError {
    fn from(error: UserError) -> Self {
        match error {
            // Only a registration under an id already taken: a new random
            // id never is, so this is a conflict, not a fault.
            UserError::AlreadyRegistered => conflict("already_registered", &error),
            UserError::NotFound => Self::NotFound,
            UserError::EmailAlreadyVerified => conflict("email_already_verified", &error),
            UserError::AccountLocked { until } => Self::AccountLocked {
                retry_after: until_now(until),
            },
            UserError::ChecksInFlight { until } => Self::LoginInProgress {
                retry_after: until_now(until),
            },
            UserError::Deactivated => Self::AccountDeactivated,
            UserError::CannotRevokeUserRole => field("roles", "user_role_required", &error),
            // Only a reset with a valid code gets this far: for the person
            // holding it, the code no longer opens anything.
            UserError::ResetNotAllowed => Self::InvalidCode,
            UserError::PasswordReused => field("new_password", "same_as_current", &error),
            // Sign-in codes are only issued, never refused to the caller
            // (the start endpoint answers alike for every address).
            UserError::SignInCodeNotAllowed => Self::InvalidCode,
            UserError::NoPendingPhone => conflict("no_pending_phone", &error),
            UserError::TotpAlreadyEnabled => conflict("mfa_already_enabled", &error),
            UserError::NoTotpEnrollment => conflict("no_totp_enrollment", &error),
            UserError::TotpNotEnabled => conflict("mfa_not_enabled", &error),
            // The code was right once; a second use is a wrong code.
            UserError::SecondFactorReplayed => Self::InvalidCode,
            UserError::ProviderAlreadyLinked => conflict("provider_already_linked", &error),
            UserError::IdentityNotLinked => Self::NotFound,
            UserError::LastSignInMethod => conflict("last_sign_in_method", &error),
            UserError::SameEmail => field("new_email", "same_as_current", &error),
            // Only a right code gets this far: for the person holding it,
            // it no longer changes anything (replaced, or its time is up).
            UserError::NoPendingEmailChange => Self::InvalidCode,
            UserError::SameUsername => field("username", "same_as_current", &error),
        }
    }
}

impl From<SessionError> for AppError {
    /// Sessions are only reached through their refresh token: whatever is
    /// wrong with the session, the token is not valid, and the answer does
    /// not say which (the use case logs the reason).
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::AlreadyStarted => conflict("session_already_started", &error),
            SessionError::NotFound
            | SessionError::Revoked
            | SessionError::Expired
            | SessionError::UnknownToken => Self::InvalidRefreshToken,
        }
    }
}

impl From<InfluencerError> for AppError {
    /// Decisions where the issue was silent: a reapplication that comes too
    /// early is 409 (like `application_pending`, it is about the state, not
    /// the input), with the date it becomes possible in the detail; an
    /// unverified applicant gets the existing 403 `email_not_verified`;
    /// acting on someone who is not (yet) an influencer is 404.
    fn from(error: InfluencerError) -> Self {
        match &error {
            InfluencerError::NotVerified => Self::EmailNotVerified,
            InfluencerError::ApplicationPending => conflict("application_pending", &error),
            InfluencerError::AlreadyInfluencer => conflict("already_influencer", &error),
            InfluencerError::TooSoonToReapply { .. } => conflict("too_soon_to_reapply", &error),
            InfluencerError::AlreadyDecided => conflict("already_decided", &error),
            InfluencerError::Suspended => conflict("influencer_suspended", &error),
            InfluencerError::VanityCodeLimitReached { .. } => {
                conflict("vanity_code_limit_reached", &error)
            }
            InfluencerError::NotFound
            | InfluencerError::NotAnInfluencer
            | InfluencerError::UnknownCode => Self::NotFound,
            InfluencerError::InvalidApplication(problem) => {
                let name = match problem {
                    ApplicationProblem::DisplayName => "display_name",
                    ApplicationProblem::NoChannels
                    | ApplicationProblem::TooManyChannels
                    | ApplicationProblem::Channel => "channels",
                    ApplicationProblem::Pitch => "pitch",
                };
                field(name, "invalid", problem)
            }
            InfluencerError::ReasonRequired => field("reason", "required", &error),
            InfluencerError::InvalidCode(problem) => field("code", problem.code(), problem),
        }
    }
}

impl From<ReferralError> for AppError {
    /// Attribution happens inside registration, after the code was resolved;
    /// these answer the rare races with a code deactivated meanwhile.
    fn from(error: ReferralError) -> Self {
        match error {
            ReferralError::AlreadyAttributed => conflict("already_attributed", &error),
            ReferralError::CodeNotAttributing | ReferralError::SelfReferral => {
                Self::Unprocessable {
                    code: "invalid_referral_code",
                    detail: "the referral code is unknown or no longer active".to_owned(),
                }
            }
            ReferralError::NotAttributed => Self::NotFound,
        }
    }
}

impl From<ConversionError> for AppError {
    fn from(error: ConversionError) -> Self {
        match error {
            ConversionError::AmountOutOfRange => field("amount_minor", "out_of_range", &error),
            ConversionError::OccurredAtOutOfRange => field("occurred_at", "out_of_range", &error),
            ConversionError::OccurredBeforeSignup => field("occurred_at", "before_signup", &error),
            ConversionError::InvalidExternalId => field("external_id", "invalid", &error),
            ConversionError::ExternalIdReused => conflict("external_id_reused", &error),
            ConversionError::NotFound => Self::NotFound,
        }
    }
}

impl From<LedgerError> for AppError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::PayoutExceedsAvailable { .. } => {
                conflict("payout_exceeds_available", &error)
            }
            LedgerError::PayoutReferenceReused => conflict("payout_reference_reused", &error),
            LedgerError::InvalidReference => field("reference", "invalid", &error),
            LedgerError::TotalOverflow => Self::Unprocessable {
                code: "ledger_total_overflow",
                detail: error.to_string(),
            },
            LedgerError::AmountOutOfRange => field("amount_minor", "out_of_range", &error),
        }
    }
}

impl From<AuditError> for AppError {
    /// The service always names the viewer and the subject; these would be
    /// a caller asking for a view it may not have.
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::ViewerMissing => Self::Forbidden,
            AuditError::WrongSubject => Self::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use aggregates::values::ReferralCodeError;
    use chrono::Utc;

    use super::*;

    /// Lists one example of each variant of `$error`, guarded by an
    /// exhaustive `match` with no wildcard: a new variant fails to compile
    /// here until it is listed (and so tested).
    macro_rules! every {
        ($error:ident: $($variant:ident $({ $($field:ident: $value:expr),* })? $(($arg:expr))?),+ $(,)?) => {{
            let all = vec![$($error::$variant $({ $($field: $value),* })? $(($arg))?),+];
            for error in &all {
                match error {
                    $($error::$variant { .. })|+ => {}
                }
            }
            all.into_iter()
                .map(|e| (format!("{e:?}"), AppError::from(e)))
                .collect::<Vec<_>>()
        }};
    }

    /// Every variant of every aggregate's error, with how it is answered.
    fn every_refusal() -> Vec<(String, AppError)> {
        let now = Utc::now();
        let mut all = Vec::new();
        all.extend(
            every!(UserError: AlreadyRegistered, NotFound, EmailAlreadyVerified,
            AccountLocked { until: now }, ChecksInFlight { until: now }, Deactivated,
            CannotRevokeUserRole, ResetNotAllowed, PasswordReused, SignInCodeNotAllowed,
            NoPendingPhone, TotpAlreadyEnabled, NoTotpEnrollment, TotpNotEnabled,
            SecondFactorReplayed, ProviderAlreadyLinked, IdentityNotLinked, LastSignInMethod,
            SameEmail, NoPendingEmailChange, SameUsername),
        );
        all.extend(every!(SessionError: AlreadyStarted, NotFound, Revoked, Expired, UnknownToken));
        all.extend(
            every!(InfluencerError: NotVerified, ApplicationPending, AlreadyInfluencer,
            TooSoonToReapply { allowed_from: now }, InvalidApplication(ApplicationProblem::Pitch),
            NotFound, AlreadyDecided, ReasonRequired, NotAnInfluencer, Suspended,
            InvalidCode(ReferralCodeError::Reserved), VanityCodeLimitReached { max: 3 },
            UnknownCode),
        );
        all.extend(
            every!(ReferralError: AlreadyAttributed, CodeNotAttributing, SelfReferral,
            NotAttributed),
        );
        all.extend(
            every!(ConversionError: AmountOutOfRange, OccurredAtOutOfRange,
            OccurredBeforeSignup, InvalidExternalId, ExternalIdReused, NotFound),
        );
        all.extend(every!(LedgerError: AmountOutOfRange, TotalOverflow,
            PayoutExceedsAvailable { available: 1 }, PayoutReferenceReused, InvalidReference));
        all.extend(every!(AuditError: ViewerMissing, WrongSubject));
        // The nested problems each pick their own field or code (the
        // conversions above match them exhaustively).
        use ApplicationProblem as P;
        for problem in [
            P::DisplayName,
            P::NoChannels,
            P::TooManyChannels,
            P::Channel,
        ] {
            let error = InfluencerError::InvalidApplication(problem);
            all.push((format!("{error:?}"), error.into()));
        }
        for code in [
            ReferralCodeError::WrongLength,
            ReferralCodeError::InvalidCharacters,
        ] {
            let error = InfluencerError::InvalidCode(code);
            all.push((format!("{error:?}"), error.into()));
        }
        all
    }

    #[test]
    fn every_refusal_of_every_aggregate_is_a_4xx_with_a_stable_code() {
        let all = every_refusal();
        assert!(all.len() >= 45, "only {} refusals listed", all.len());
        for (name, error) in all {
            let (status, code) = error.status_and_code();
            assert!(status.is_client_error(), "{name} is answered {status}");
            assert!(
                !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
                "{name} has the code {code:?}, not a stable snake_case code"
            );
        }
    }

    #[test]
    fn a_refusal_reached_through_a_command_keeps_its_answer() {
        let error = crate::store::CommandError::<UserError>::Domain(UserError::Deactivated);
        let (status, code) = AppError::from(error).status_and_code();
        assert_eq!((status.as_u16(), code), (403, "account_deactivated"));
    }
}
