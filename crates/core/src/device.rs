//! What a person recognises a session by: the browser and system its user agent names
//! ("Firefox on Linux"), read from the few well-known tokens, never trusted for anything else.

/// "Browser on system" for a user agent, as far as it tells; "Unknown device" for none.
pub fn describe(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|s| !s.is_empty()) else {
        return "Unknown device".into();
    };
    let browser = browser(ua);
    match system(ua) {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

/// The browser or client: the first token that names it, most specific first (Edge and Opera
/// also say Chrome; Chrome also says Safari).
fn browser(ua: &str) -> &'static str {
    const KNOWN: [(&str, &str); 11] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("reqwest", "reqwest"),
        ("python-requests/", "Python requests"),
        ("Go-http-client/", "Go HTTP client"),
    ];
    KNOWN
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map_or("Unknown browser", |(_, name)| name)
}

/// The operating system, if the user agent names one (Android before Linux, iOS before macOS).
fn system(ua: &str) -> Option<&'static str> {
    const KNOWN: [(&str, &str); 8] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    KNOWN
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_user_agents_read_as_browser_on_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
                "Chrome on macOS",
            ),
            ("curl/8.5.0", "curl"),
            ("something else", "Unknown browser"),
        ];
        for (ua, want) in cases {
            assert_eq!(describe(Some(ua)), want, "{ua}");
        }
        assert_eq!(describe(None), "Unknown device");
        assert_eq!(describe(Some("  ")), "Unknown device");
    }
}
