//! Field addresses: `@<uuid>.<field>`.
//!
//! The address names a *version* (its `ecs_id`, canonical hyphenated form)
//! and a field of that version's schema. Parsing only checks the shape; the
//! store then decides whether the id is current, historical, evicted or
//! unknown, and whether the field exists. Each shape error is its own
//! variant, so a caller can tell a missing `@` from a bad UUID.

use uuid::Uuid;

use super::error::EcsError;

/// A parsed address, borrowing its field name from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    pub(crate) ecs_id: Uuid,
    pub(crate) field: &'a str,
}

const HYPHENATED_LEN: usize = 36;

impl<'a> Address<'a> {
    /// Parse `@<uuid>.<field>`; the uuid must be in the canonical
    /// 36-character hyphenated form (either case of hex digits).
    pub fn parse(address: &'a str) -> Result<Address<'a>, EcsError> {
        let Some(rest) = address.strip_prefix('@') else {
            return Err(EcsError::MissingAt {
                address: address.to_owned(),
            });
        };
        // Fast path for the well-formed case: the '.' right after the uuid.
        if rest.as_bytes().get(HYPHENATED_LEN) == Some(&b'.')
            && let Ok(ecs_id) = Uuid::try_parse_ascii(&rest.as_bytes()[..HYPHENATED_LEN])
            && let Some(field) = rest.get(HYPHENATED_LEN + 1..)
            && !field.is_empty()
        {
            return Ok(Address { ecs_id, field });
        }
        let (text, field) = match rest.split_once('.') {
            Some((text, field)) => (text, Some(field)),
            None => (rest, None),
        };
        let ecs_id = match Uuid::try_parse(text) {
            Ok(id) if text.len() == HYPHENATED_LEN => id,
            _ => {
                return Err(EcsError::BadUuid {
                    address: address.to_owned(),
                    text: text.to_owned(),
                });
            }
        };
        match field {
            None => Err(EcsError::MissingField {
                address: address.to_owned(),
            }),
            Some("") => Err(EcsError::EmptyField {
                address: address.to_owned(),
            }),
            Some(field) => Ok(Address { ecs_id, field }),
        }
    }
}

/// Format the address of `field` in version `ecs_id`. Built by hand, not
/// with `format!`: it is on every `modify_field` execution's path.
pub fn address(ecs_id: Uuid, field: &str) -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = ecs_id.hyphenated().encode_lower(&mut buf);
    let mut s = String::with_capacity(2 + id.len() + field.len());
    s.push('@');
    s.push_str(id);
    s.push('.');
    s.push_str(field);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    #[test]
    fn parses_and_formats_round_trip() {
        let id = Uuid::parse_str(ID).unwrap();
        let text = address(id, "counter");
        assert_eq!(text, format!("@{ID}.counter"));
        assert_eq!(
            Address::parse(&text),
            Ok(Address {
                ecs_id: id,
                field: "counter"
            })
        );
        let upper = format!("@{}.x", ID.to_uppercase());
        assert_eq!(Address::parse(&upper).map(|a| a.ecs_id), Ok(id));
    }

    #[test]
    fn each_shape_error_is_distinct_and_names_the_address() {
        let simple = ID.replace('-', "");
        type IsExpected = fn(&EcsError) -> bool;
        let cases: Vec<(String, IsExpected)> = vec![
            (format!("{ID}.counter"), |e| {
                matches!(e, EcsError::MissingAt { .. })
            }),
            (
                "@nope.counter".to_owned(),
                |e| matches!(e, EcsError::BadUuid { text, .. } if text == "nope"),
            ),
            (format!("@{simple}.counter"), |e| {
                matches!(e, EcsError::BadUuid { .. })
            }),
            ("@not-a-uuid".to_owned(), |e| {
                matches!(e, EcsError::BadUuid { .. })
            }),
            (format!("@{ID}"), |e| {
                matches!(e, EcsError::MissingField { .. })
            }),
            (format!("@{ID}."), |e| {
                matches!(e, EcsError::EmptyField { .. })
            }),
        ];
        for (input, is_expected) in cases {
            let err = Address::parse(&input).unwrap_err();
            assert!(is_expected(&err), "{input:?} gave {err:?}");
            let message = err.to_string();
            assert!(message.contains(&input), "{message}");
            assert!(message.starts_with("malformed address"), "{message}");
        }
        let err = Address::parse("x").unwrap_err();
        assert!(err.to_string().contains("must start with '@'"), "{err}");
    }
}
