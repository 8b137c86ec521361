//! sprig v3.2.3's generic function map, family by family. Functions that touch
//! the network, key material or derive secrets (`getHostByName bcrypt htpasswd
//! genPrivateKey derivePassword buildCustomCert genCA genSelfSignedCert
//! genSignedCert encryptAES decryptAES`) are deliberately absent: templates
//! using them fail to parse with `function "..." not defined`.

mod conv;
mod dates;
mod dicts;
mod encoding;
mod lists;
mod logic;
mod math;
mod paths;
pub(crate) mod regex;
mod semver;
mod strings;
mod text;
mod url;

pub(crate) use url::query_escape;

use super::FuncDef;

/// Every sprig table, registered after the builtins.
pub(crate) const TABLES: &[&[FuncDef]] = &[
    strings::FUNCS,
    math::FUNCS,
    lists::FUNCS,
    dicts::FUNCS,
    logic::FUNCS,
    dates::FUNCS,
    encoding::FUNCS,
    regex::FUNCS,
    semver::FUNCS,
    url::FUNCS,
    paths::FUNCS,
];
