//! Compiles `src/saml/xmldsig.c`, Gatehouse's binding to libxmlsec1's
//! signature verification, against the installed headers with the flags
//! pkg-config gives (they change the layout of libxmlsec1's structures).

fn main() {
    println!("cargo:rerun-if-changed=src/saml/xmldsig.c");
    let xmlsec = match pkg_config::Config::new()
        .cargo_metadata(false)
        .probe("xmlsec1")
    {
        Ok(library) => library,
        Err(e) => {
            eprintln!(
                "libxmlsec1 was not found by pkg-config ({e}); ./scripts/setup installs it (libxmlsec1-dev)"
            );
            std::process::exit(1);
        }
    };
    let mut build = cc::Build::new();
    build.file("src/saml/xmldsig.c").warnings(true);
    for path in &xmlsec.include_paths {
        build.include(path);
    }
    for (name, value) in &xmlsec.defines {
        build.define(name, value.as_deref());
    }
    build.compile("gatehouse_xmldsig");
    for path in &xmlsec.link_paths {
        println!("cargo:rustc-link-search=native={}", path.display());
    }
    for lib in &xmlsec.libs {
        println!("cargo:rustc-link-lib={lib}");
    }
}
