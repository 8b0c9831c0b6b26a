use super::ErrorCode;

#[test]
fn each_code_key_is_what_it_serializes_to() {
    // Events carry `key()`, IPC carries the serialized code: the UI compares them as one.
    for code in [
        ErrorCode::Validation,
        ErrorCode::NotFound,
        ErrorCode::DuplicateName,
        ErrorCode::Keyring,
        ErrorCode::Storage,
        ErrorCode::Demo,
        ErrorCode::AlreadyRunning,
        ErrorCode::Defender,
        ErrorCode::Internal,
    ] {
        assert_eq!(
            serde_json::to_string(&code).ok(),
            Some(format!("\"{}\"", code.key()))
        );
    }
}
