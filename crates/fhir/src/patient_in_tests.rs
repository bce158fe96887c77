#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::PatientInfo;
use proptest::prelude::*;
use serde_json::json;
use time::macros::date;

const INSTITUTION: &str = "urn:oid:1.2.392.100495.20.3.51.11311234567";

fn ide(family: &str, given: &str) -> Value {
    json!({ "extension": [ { "url": NAME_REPRESENTATION, "valueCode": "IDE" } ], "use": "official", "family": family, "given": [given] })
}

fn syl(family: &str, given: &str) -> Value {
    json!({ "extension": [ { "url": NAME_REPRESENTATION, "valueCode": "SYL" } ], "use": "official", "family": family, "given": [given] })
}

fn valid() -> Value {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "meta": { "versionId": "3", "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"] },
        "identifier": [ { "system": INSTITUTION, "value": "00012345" } ],
        "active": true,
        "name": [ ide("山田", "花子"), syl("ヤマダ", "ハナコ") ],
        "telecom": [ { "system": "email", "value": "h@example.jp" }, { "system": "phone", "value": "03-1234-5678", "use": "home" } ],
        "gender": "female",
        "birthDate": "1940-05-01",
        "address": [ { "text": "東京都千代田区1-1", "postalCode": "100-0001", "line": ["1-1"], "city": "千代田区", "state": "東京都", "country": "JP" } ]
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

fn errors(v: &Value) -> Vec<Issue> {
    parse_patient(v).unwrap_err().issues
}

fn expressions(v: &Value) -> Vec<String> {
    errors(v).into_iter().flat_map(|i| i.expression).collect()
}

#[test]
fn reads_a_jp_core_patient() {
    let p = parse_patient(&valid()).unwrap();
    assert_eq!(p.id.as_deref(), Some("p1"));
    assert_eq!(p.version_id.as_deref(), Some("3"));
    assert_eq!(p.identifiers, vec![Identifier { system: INSTITUTION.into(), value: "00012345".into() }]);
    assert_eq!(p.identifiers[0].institution_code(), Some("1311234567"));
    assert_eq!(p.family_kanji, "山田");
    assert_eq!(p.given_kanji.as_deref(), Some("花子"));
    assert_eq!(p.family_kana.as_deref(), Some("ヤマダ"));
    assert_eq!(p.given_kana.as_deref(), Some("ハナコ"));
    assert_eq!(p.gender, Sex::Female);
    assert_eq!(p.birth_date, date!(1940 - 05 - 01));
    assert_eq!(p.phone.as_deref(), Some("03-1234-5678"));
    let a = p.address.unwrap();
    assert_eq!(a.postal_code.as_deref(), Some("100-0001"));
    assert_eq!(a.lines, vec!["1-1"]);
    assert_eq!(a.city.as_deref(), Some("千代田区"));
    assert_eq!(a.state.as_deref(), Some("東京都"));
    assert_eq!(p.active, Some(true));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

/// What the letter Bundle writes (resources::patient) reads back to the same values.
#[test]
fn round_trip_with_the_letter_writer() {
    let info = PatientInfo {
        id: "5a0c2f4e-1111-4c59-9a59-2c7b9a1d0002".into(),
        family_name: "山田".into(),
        given_name: "花子".into(),
        family_kana: "ヤマダ".into(),
        given_kana: "ハナコ".into(),
        sex: Sex::Female,
        birth_date: "1940-05-01".into(),
        postal_code: Some("100-0001".into()),
        address: Some("東京都千代田区千代田1-1".into()),
        phone: Some("03-1234-5678".into()),
        local_ids: vec![(Some("1311234567".into()), "00012345".into()), (None, "unscoped".into())],
    };
    let written = crate::resources::patient(&info);
    let p = parse_patient(&written).unwrap();
    assert_eq!(p.id.as_deref(), Some(info.id.as_str()));
    assert_eq!(p.family_kanji, info.family_name);
    assert_eq!(p.given_kanji.as_deref(), Some(info.given_name.as_str()));
    assert_eq!(p.family_kana.as_deref(), Some(info.family_kana.as_str()));
    assert_eq!(p.given_kana.as_deref(), Some(info.given_kana.as_str()));
    assert_eq!(p.gender, info.sex);
    assert_eq!(p.birth_date, date!(1940 - 05 - 01));
    let a = p.address.clone().unwrap();
    assert_eq!(a.text, info.address);
    assert_eq!(a.postal_code, info.postal_code);
    assert_eq!(p.phone, info.phone);
    assert_eq!(p.identifiers.len(), 2);
    assert_eq!(p.identifiers[0].value, format!("urn:uuid:{}", info.id));
    assert_eq!(p.identifiers[1].institution_code(), Some("1311234567"));
    assert_eq!(p.identifiers[1].value, "00012345");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // And on into the domain's own checks.
    let form = p.to_form(Some("1311234567"));
    assert_eq!(form.local_id, "00012345");
    let new = tsunagu_domain::patient::NewPatient::parse(&form, date!(2026 - 11 - 30)).unwrap();
    assert_eq!(new.family_name, "山田");
    assert_eq!(new.birth_date, date!(1940 - 05 - 01));
    assert_eq!(new.postal_code.as_deref(), Some("100-0001"));
    for sex in Sex::ALL {
        let p = parse_patient(&crate::resources::patient(&PatientInfo { sex, ..info.clone() })).unwrap();
        assert_eq!(p.gender, sex);
    }
}

#[test]
fn a_single_unmarked_name_is_kanji() {
    let v = with(valid(), "name", json!([ { "family": "山田", "given": ["花子"] } ]));
    let p = parse_patient(&v).unwrap();
    assert_eq!((p.family_kanji.as_str(), p.family_kana), ("山田", None));
}

#[test]
fn name_from_text_when_no_parts() {
    let v = with(
        valid(),
        "name",
        json!([ { "extension": [ { "url": NAME_REPRESENTATION, "valueCode": "IDE" } ], "text": "山田　花子" } ]),
    );
    let p = parse_patient(&v).unwrap();
    assert_eq!((p.family_kanji.as_str(), p.given_kanji.as_deref()), ("山田", Some("花子")));
}

#[test]
fn unmarked_names_among_several_are_ignored_with_a_warning() {
    let v = with(valid(), "name", json!([ { "family": "Yamada" }, ide("山田", "花子"), syl("ヤマダ", "ハナコ") ]));
    let p = parse_patient(&v).unwrap();
    assert_eq!(p.family_kanji, "山田");
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].expression, vec!["Patient.name[0]"]);
    assert_eq!(p.warnings[0].severity, Severity::Warning);
}

#[test]
fn old_names_are_not_chosen() {
    let mut old = ide("佐藤", "花子");
    old["use"] = json!("maiden");
    let v = with(valid(), "name", json!([old, ide("山田", "花子")]));
    assert_eq!(parse_patient(&v).unwrap().family_kanji, "山田");
}

#[test]
fn kana_is_converted_to_katakana() {
    let v = with(valid(), "name", json!([ide("山田", "花子"), syl("やまだ", "ﾊﾅｺ")]));
    let p = parse_patient(&v).unwrap();
    assert_eq!((p.family_kana.as_deref(), p.given_kana.as_deref()), (Some("ヤマダ"), Some("ハナコ")));
}

#[test]
fn kana_must_be_kana() {
    let v = with(valid(), "name", json!([ide("山田", "花子"), syl("山田", "ハナコ")]));
    let e = errors(&v);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].expression, vec!["Patient.name[1].family"]);
    assert_eq!(e[0].code, IssueType::Value);
}

#[test]
fn a_kanji_name_is_required() {
    let e = errors(&with(valid(), "name", json!([syl("ヤマダ", "ハナコ")])));
    assert_eq!(e[0].expression, vec!["Patient.name"]);
    assert_eq!(e[0].code, IssueType::Required);
    assert_eq!(expressions(&without(valid(), "name")), vec!["Patient.name"]);
    let e = expressions(&with(
        valid(),
        "name",
        json!([ { "extension": [ { "url": NAME_REPRESENTATION, "valueCode": "IDE" } ], "given": ["花子"] } ]),
    ));
    assert_eq!(e, vec!["Patient.name[0].family"]);
}

#[test]
fn wrong_json_types_name_the_element() {
    let v = with(valid(), "name", json!([ ide("山田", "花子"), { "family": 42, "given": "ハナコ" } ]));
    let e = expressions(&v);
    assert!(e.contains(&"Patient.name[1].family".to_string()), "{e:?}");
    assert!(e.contains(&"Patient.name[1].given".to_string()), "{e:?}");
    // One problem, one issue: a family of the wrong type is not also "missing".
    assert_eq!(expressions(&with(valid(), "name", json!([ { "family": 42 } ]))), vec!["Patient.name[0].family"]);
    assert_eq!(expressions(&with(valid(), "gender", json!(1))), vec!["Patient.gender"]);
    assert_eq!(expressions(&with(valid(), "active", json!("yes"))), vec!["Patient.active"]);
    assert_eq!(expressions(&with(valid(), "name", json!({}))), vec!["Patient.name"]);
    assert_eq!(expressions(&with(valid(), "identifier", json!(["x"]))), vec!["Patient.identifier[0]"]);
    assert_eq!(
        expressions(&with(valid(), "telecom", json!([ { "system": "phone", "value": null } ]))),
        vec!["Patient.telecom[0].value"]
    );
}

#[test]
fn reports_every_problem_at_once() {
    let mut v = without(valid(), "birthDate");
    v["gender"] = json!("f");
    v["foo"] = json!(1);
    v["name"][0]["family"] = json!("");
    let e = parse_patient(&v).unwrap_err();
    let exprs: Vec<_> = e.issues.iter().flat_map(|i| i.expression.clone()).collect();
    for want in ["Patient.foo", "Patient.gender", "Patient.birthDate", "Patient.name[0].family"] {
        assert!(exprs.contains(&want.to_string()), "{want} missing from {exprs:?}");
    }
    let o = e.to_outcome();
    assert_eq!(o["resourceType"], "OperationOutcome");
    assert!(o["issue"].as_array().unwrap().len() >= 4);
    assert!(e.to_string().contains("more"), "{e}");
}

#[test]
fn resource_type_and_shape() {
    let e = errors(&with(valid(), "resourceType", json!("Observation")));
    assert_eq!(e.len(), 1);
    assert!(e[0].diagnostics.contains("Observation"));
    assert_eq!(errors(&without(valid(), "resourceType"))[0].code, IssueType::Required);
    assert_eq!(errors(&json!([1, 2]))[0].code, IssueType::Structure);
    assert_eq!(errors(&json!("Patient"))[0].code, IssueType::Structure);
    let e = parse_patient_json(b"{\"resourceType\": \"Patient\",").unwrap_err();
    assert!(e.issues[0].diagnostics.contains("not valid JSON"));
    assert!(parse_patient_json(valid().to_string().as_bytes()).is_ok());
}

#[test]
fn unknown_elements_are_errors_everywhere() {
    assert_eq!(expressions(&with(valid(), "birthdate", json!("1940-05-01"))), vec!["Patient.birthdate"]);
    let mut v = valid();
    v["name"][0]["familyName"] = json!("x");
    v["identifier"][0]["val"] = json!("x");
    v["address"][0]["prefecture"] = json!("x");
    v["meta"]["version"] = json!("1");
    let e = expressions(&v);
    assert_eq!(
        e,
        vec![
            "Patient.meta.version",
            "Patient.identifier[0].val",
            "Patient.name[0].familyName",
            "Patient.address[0].prefecture"
        ]
    );
    // Known elements we do not keep are fine, and so are primitive extensions.
    let mut v = valid();
    v["maritalStatus"] = json!({ "text": "既婚" });
    v["_birthDate"] = json!({ "extension": [ { "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1940-05-01T10:00:00+09:00" } ] });
    v["extension"] = json!([ { "url": "http://example.jp/ext", "valueString": "x" } ]);
    v["communication"] = json!([ { "language": { "text": "日本語" } } ]);
    assert!(parse_patient(&v).is_ok());
}

#[test]
fn long_unknown_names_are_not_echoed() {
    let long = "x".repeat(5000);
    let v = with(valid(), &long, json!(1));
    let e = errors(&v);
    assert!(e[0].diagnostics.len() < 200);
    assert!(e[0].expression[0].len() < 200);
}

#[test]
fn modifier_extensions_and_implicit_rules_are_refused() {
    let e = errors(&with(valid(), "modifierExtension", json!([ { "url": "http://x", "valueBoolean": true } ])));
    assert_eq!(e[0].code, IssueType::NotSupported);
    assert_eq!(e[0].expression, vec!["Patient.modifierExtension"]);
    let mut v = valid();
    v["name"][0]["modifierExtension"] = json!([ { "url": "http://x", "valueBoolean": true } ]);
    assert_eq!(expressions(&v), vec!["Patient.name[0].modifierExtension"]);
    let e = errors(&with(valid(), "implicitRules", json!("http://example.org/rules")));
    assert_eq!(e[0].code, IssueType::NotSupported);
}

#[test]
fn identifiers() {
    let v =
        with(valid(), "identifier", json!([ { "system": "urn:oid:1.2.392.100495.20.3.51.1131123456", "value": "1" } ]));
    assert_eq!(expressions(&v), vec!["Patient.identifier[0].system"]);
    let v = with(
        valid(),
        "identifier",
        json!([ { "system": INSTITUTION, "value": "1" }, { "system": INSTITUTION, "value": "2" } ]),
    );
    let e = errors(&v);
    assert_eq!(e[0].code, IssueType::Duplicate);
    assert_eq!(e[0].expression, vec!["Patient.identifier[1].system"]);
    let v = with(valid(), "identifier", json!([ { "value": "1" }, { "system": "urn:x" } ]));
    assert_eq!(expressions(&v), vec!["Patient.identifier[0].system", "Patient.identifier[1].value"]);
    let other = Identifier { system: "urn:ietf:rfc:3986".into(), value: "urn:uuid:x".into() };
    assert_eq!(other.institution_code(), None);
}

#[test]
fn birth_date_must_be_a_full_date() {
    for bad in ["1940", "1940-05", "1940-02-30", "1940-5-1", "0000-01-01", "1940-05-01T00:00:00Z", "１９４０-05-01"]
    {
        let e = errors(&with(valid(), "birthDate", json!(bad)));
        assert_eq!(e[0].expression, vec!["Patient.birthDate"], "{bad}");
        assert_eq!(e[0].code, IssueType::Value, "{bad}");
    }
    assert_eq!(
        parse_patient(&with(valid(), "birthDate", json!("2000-02-29"))).unwrap().birth_date,
        date!(2000 - 02 - 29)
    );
}

#[test]
fn gender_codes() {
    assert_eq!(parse_patient(&with(valid(), "gender", json!("unknown"))).unwrap().gender, Sex::Unknown);
    let e = errors(&with(valid(), "gender", json!("F")));
    assert_eq!(e[0].code, IssueType::CodeInvalid);
    assert_eq!(errors(&without(valid(), "gender"))[0].code, IssueType::Required);
}

#[test]
fn empty_strings_and_arrays_are_not_fhir() {
    assert_eq!(expressions(&with(valid(), "telecom", json!([]))), vec!["Patient.telecom"]);
    assert_eq!(expressions(&with(valid(), "id", json!(""))), vec!["Patient.id"]);
    assert_eq!(expressions(&with(valid(), "id", json!("a b"))), vec!["Patient.id"]);
    let mut v = valid();
    v["meta"]["versionId"] = json!("W/\"3\"");
    assert_eq!(expressions(&v), vec!["Patient.meta.versionId"]);
}

#[test]
fn telecom_and_address_choice() {
    let v = with(
        valid(),
        "telecom",
        json!([
            { "system": "phone", "value": "03-0000-0000", "use": "old" },
            { "system": "phone", "value": "090-1111-2222", "use": "mobile" },
            { "system": "phone", "value": "03-3333-4444" }
        ]),
    );
    let p = parse_patient(&v).unwrap();
    assert_eq!(p.phone.as_deref(), Some("090-1111-2222"));
    assert_eq!(p.warnings.len(), 1);
    let v = with(valid(), "address", json!([ { "use": "old", "text": "旧住所" }, { "text": "新住所" } ]));
    assert_eq!(parse_patient(&v).unwrap().address.unwrap().text.as_deref(), Some("新住所"));
    let e = expressions(&with(valid(), "telecom", json!([ { "system": "telephone", "value": "1" } ])));
    assert_eq!(e, vec!["Patient.telecom[0].system"]);
}

#[test]
fn deceased_is_a_warning() {
    let p = parse_patient(&with(valid(), "deceasedBoolean", json!(true))).unwrap();
    assert_eq!(p.warnings[0].expression, vec!["Patient.deceasedBoolean"]);
}

#[test]
fn too_many_problems_are_capped() {
    let names: Vec<Value> = (0..200).map(|_| json!({ "family": 1 })).collect();
    let e = errors(&with(valid(), "name", json!(names)));
    assert_eq!(e.len(), MAX_ISSUES + 1);
    assert_eq!(e.last().unwrap().code, IssueType::TooCostly);
}

#[test]
fn form_fields_map_to_elements() {
    assert_eq!(expression_for_form_field("birth_date"), Some("Patient.birthDate"));
    assert_eq!(expression_for_form_field("family_kana"), Some("Patient.name"));
    assert_eq!(expression_for_form_field("nope"), None);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "Patient",
            "IDE",
            "SYL",
            "ABC",
            "male",
            "female",
            "1940-05-01",
            "1940",
            "phone",
            "old",
            "山田",
            "やまだ",
            "",
            NAME_REPRESENTATION,
            INSTITUTION,
            "urn:oid:1.2.392.100495.20.3.51.1",
        ])
        .prop_map(|s| json!(s)),
        ".{0,8}".prop_map(Value::String),
    ];
    let keys = prop::sample::select(vec![
        "resourceType",
        "id",
        "meta",
        "versionId",
        "identifier",
        "system",
        "value",
        "name",
        "family",
        "given",
        "text",
        "extension",
        "url",
        "valueCode",
        "use",
        "gender",
        "birthDate",
        "telecom",
        "address",
        "line",
        "postalCode",
        "active",
        "modifierExtension",
        "_birthDate",
        "rank",
        "deceasedBoolean",
        "zzz",
    ]);
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn never_panics_on_arbitrary_json(mut v in arb_json(), rt in any::<bool>()) {
        if rt
            && let Value::Object(m) = &mut v {
                m.insert("resourceType".into(), json!("Patient"));
            }
        match parse_patient(&v) {
            Ok(p) => { let _ = p.to_form(Some("1311234567")); }
            Err(e) => {
                prop_assert!(!e.issues.is_empty());
                prop_assert!(has_errors(&e.issues));
                let _ = e.to_outcome();
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_patient_json(&b);
    }

    /// Any change to one element of a valid patient either still parses or is
    /// reported with at least one error.
    #[test]
    fn mutations_of_a_valid_patient(key in prop::sample::select(PATIENT_ELEMENTS.to_vec()), v in arb_json()) {
        let p = with(valid(), key, v);
        if let Err(e) = parse_patient(&p) {
            prop_assert!(has_errors(&e.issues));
        }
    }
}

use crate::outcome::has_errors;
