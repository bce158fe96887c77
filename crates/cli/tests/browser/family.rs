//! A family at home and the visiting nurse, on phones (issue #10). At a phone-sized
//! window: the nurse invites 山田 花子's son from the chart; he opens the one-time link,
//! makes his account, and records pain 8 with a rescue dose in the home diary; the
//! nurse sees the alert in her inbox and on the chart's family page, marked as
//! patient-reported, and answers on the family thread; the son reads the answer.
//! Screenshots: `family-home.png`, `family-diary.png`, `nurse-family-alert.png`,
//! `family-messages.png`; on failure `failure-family.png`.

use super::*;

/// An iPhone-sized window (CSS pixels).
const PHONE: (u32, u32) = (390, 844);

async fn phone(c: &Client) -> Result<()> {
    c.set_window_size(PHONE.0, PHONE.1).await?;
    Ok(())
}

/// The page must fit the phone: nothing wider than the window.
async fn fits_phone(c: &Client, what: &str) -> Result<()> {
    let widths = c.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?;
    let scroll = widths.pointer("/0").and_then(|v| v.as_u64()).unwrap_or(0);
    let inner = widths.pointer("/1").and_then(|v| v.as_u64()).unwrap_or(0);
    ensure!(scroll <= inner + 1, "{what} is {scroll} px wide in a {inner} px window");
    Ok(())
}

/// Set a `datetime-local` input as its picker would (typed segments follow the locale).
async fn set_datetime(c: &Client, id: &str, value: &str) -> Result<()> {
    let set = "const el = document.getElementById(arguments[0]); el.value = arguments[1]; \
               el.dispatchEvent(new Event('input', { bubbles: true })); return el.value;";
    let v = c.execute(set, vec![json!(id), json!(value)]).await?;
    ensure!(v == json!(value), "#{id} reads {v}, not {value}");
    Ok(())
}

async fn family_story(c: &Client, base: &str) -> Result<()> {
    phone(c).await?;
    // 1. The visiting nurse makes an invitation link from 山田 花子's chart.
    sign_in(c, base, "takahashi@station.example.jp", "高橋").await?;
    let chart = open_chart_by_search(c, base, "ﾔﾏﾀﾞ", "山田 花子").await?;
    goto(c, base, &format!("{chart}/family")).await?;
    fill(c, "#fi-name", "山田 一郎").await?;
    fill(c, "#fi-rel", "長男").await?;
    submit(c, "#family-invite").await?;
    let link = find(c, "#family-link").await?.text().await?;
    let path = link.split_once("/f/").map(|(_, t)| format!("/f/{t}")).context("an invitation link")?;
    sign_out(c).await?;

    // 2. The son opens the link on his phone and makes his account.
    goto(c, base, &path).await?;
    wait_text(c, "main", "山田 一郎").await?;
    fill(c, "#w-login", "ichiro@example.jp").await?;
    fill(c, "#w-pw", "yamada-ichiro-2026").await?;
    fill(c, "#w-pw2", "yamada-ichiro-2026").await?;
    submit(c, "#welcome-submit").await?;
    wait_path(c, "the family home", |p| p == "/family").await?;
    wait_text(c, "main h1", "山田 花子").await?;
    wait_text(c, "#family-team", "24時間対応").await?;
    fits_phone(c, "the family home").await?;
    shot(c, "family-home.png", PHONE).await?;
    phone(c).await?;

    // 3. Pain 8 tonight, and a rescue dose.
    find(c, "#go-diary").await?.click().await?;
    wait_path(c, "the diary", |p| p == "/family/diary").await?;
    find(c, "label[for='pain-8']").await?.click().await?;
    find(c, "label[for='sleep-5']").await?.click().await?;
    fill(c, "#d-drug", "オキノーム散 5mg").await?;
    let now = c.execute("return document.getElementById('d-at').value", vec![]).await?;
    set_datetime(c, "d-rat", now.as_str().unwrap_or_default()).await?;
    fill(c, "#d-note", "夕方から背中が痛い").await?;
    submit(c, "#diary-save").await?;
    wait_text(c, "#diary-saved", "記録しました").await?;
    wait_text(c, "#diary-list", "チームに知らせました").await?;
    fits_phone(c, "the diary").await?;
    shot(c, "family-diary.png", PHONE).await?;
    phone(c).await?;
    find(c, "#family-signout").await?.click().await?;
    wait_path(c, "the family sign-in", |p| p == "/family/signin").await?;

    // 4. The nurse sees the alert in her inbox and answers the family.
    sign_in(c, base, "takahashi@station.example.jp", "高橋").await?;
    goto(c, base, "/inbox").await?;
    wait_text(c, "#inbox-diary", "山田 花子").await?;
    wait_text(c, "#inbox-diary", "本人・家族の報告").await?;
    find(c, "#inbox-diary a.diary-alert-link").await?.click().await?;
    wait_path(c, "the chart's family page", |p| p.ends_with("/family")).await?;
    wait_text(c, "#diary", "オキノーム散 5mg").await?;
    let over = find(c, "#diary tr.alert .rating.over").await?.text().await?;
    ensure!(over == "8", "the alert row shows pain {over}");
    fill(c, "#fr-body", "レスキューが効かなければ夜間でもお電話ください。今から伺います。").await?;
    submit(c, "#family-reply-send").await?;
    wait_text(c, "#thread", "今から伺います").await?;
    fits_phone(c, "the nurse's family page").await?;
    shot(c, "nurse-family-alert.png", PHONE).await?;
    phone(c).await?;
    sign_out(c).await?;

    // 5. The son reads the answer.
    goto(c, base, "/family/signin").await?;
    fill(c, "#f-login", "ichiro@example.jp").await?;
    fill(c, "#f-pw", "yamada-ichiro-2026").await?;
    submit(c, "#family-signin-submit").await?;
    wait_path(c, "the family home", |p| p == "/family").await?;
    find(c, "#go-messages").await?.click().await?;
    wait_text(c, "#family-thread", "今から伺います").await?;
    fits_phone(c, "the family messages").await?;
    shot(c, "family-messages.png", PHONE).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_records_pain_and_the_nurse_answers_on_phones() {
    if let Err(e) = in_browser("failure-family.png", family_story).await {
        panic!("browser story failed: {e:?}");
    }
}
