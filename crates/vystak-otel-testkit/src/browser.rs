//! Headless Chromium (the Debian `chromium` package) for the UI tests: the DOM after scripts ran
//! (`--dump-dom`) and screenshots (`--screenshot`). Shared with the workspace's `tests/agents.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The Chromium executable on PATH. Panics with the fix when it is missing: the UI tests do not
/// pass silently without a browser (`scripts/test.sh` installs the package).
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium not found on PATH: install the Debian package \
         (`apt-get install -y chromium`; scripts/test.sh does it when missing)"
    );
}

static PROFILE: AtomicUsize = AtomicUsize::new(0);

/// Runs Chromium headless on `url` with extra `args`, returning stdout. Each run gets its own
/// profile directory, so tests can run browsers in parallel.
fn run(url: &str, args: &[String]) -> String {
    let profile = std::env::temp_dir().join(format!(
        "vystak-chromium-{}-{}",
        std::process::id(),
        PROFILE.fetch_add(1, Ordering::Relaxed)
    ));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--window-size=1280,800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let mut stdout = stdout;
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let out = reader.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    out
}

/// The serialised DOM of `url` after its scripts ran.
pub fn dump_dom(url: &str) -> String {
    let dom = run(
        url,
        &["--virtual-time-budget=3000".into(), "--dump-dom".into()],
    );
    assert!(
        dom.contains("</html>"),
        "chromium returned no document for {url}: {dom:.500}"
    );
    dom
}

/// A 1280×800 PNG screenshot of `url` into `out`; checks that a real image was written.
pub fn screenshot(url: &str, out: &Path) {
    let _ = std::fs::remove_file(out);
    run(
        url,
        &[
            "--virtual-time-budget=3000".into(),
            format!("--screenshot={}", out.display()),
        ],
    );
    let png = std::fs::read(out).unwrap_or_else(|e| panic!("no screenshot of {url}: {e}"));
    assert_eq!(
        &png[..8],
        b"\x89PNG\r\n\x1a\n",
        "not a PNG: {}",
        out.display()
    );
    // IHDR: width and height, big-endian, at bytes 16..24.
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (1280, 800), "{}", out.display());
    assert!(
        png.len() > 10_000,
        "{} is {} bytes: a blank page?",
        out.display(),
        png.len()
    );
}

/// Where screenshots go: the committed `docs/` folder when `VYSTAK_UPDATE_SCREENSHOTS` is set
/// (`scripts/screenshots.sh`), a temporary folder otherwise.
pub fn screenshot_dir() -> PathBuf {
    if std::env::var_os("VYSTAK_UPDATE_SCREENSHOTS").is_some() {
        // The viewer crate's docs/, from the workspace root or from the crate itself.
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let krate = manifest.join("crates/vystak-otel-viewer");
        let dir = if krate.is_dir() {
            krate
        } else {
            manifest.to_path_buf()
        }
        .join("docs");
        std::fs::create_dir_all(&dir).expect("docs dir");
        dir
    } else {
        let dir = std::env::temp_dir().join(format!("vystak-ui-shots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        dir
    }
}

/// Every element of `dom` that opens with `<tag` and has `class` among its classes: the
/// opening tag's text.
pub fn tags_with_class<'a>(dom: &'a str, tag: &str, class: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i..];
        let end = after.find('>').map_or(after.len(), |e| e + 1);
        let t = &after[..end];
        if attr(t, "class").is_some_and(|c| c.split_whitespace().any(|c| c == class)) {
            out.push(t);
        }
        rest = &after[end..];
    }
    out
}

/// The value of attribute `name` in an opening tag (as Chromium serialises it: double quotes,
/// `&quot;` / `&amp;` inside), unescaped.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(
        tag[i..j]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
