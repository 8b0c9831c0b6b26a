//! Fixed vocabularies the generator draws from: operating systems, device groups, alert kinds,
//! software and names. Values follow docs/defender-api.md (REST enum spellings).

pub(crate) struct OsKind {
    pub platform: &'static str,
    pub weight: u32,
    pub class: DeviceClass,
    pub versions: &'static [&'static str],
    pub builds: &'static [i64],
    pub os_versions: &'static [&'static str],
    pub agents: &'static [&'static str],
    /// Index into [`SOFTWARE`] of the operating system's own entry.
    pub os_software: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceClass {
    Desktop,
    Laptop,
    Server,
    Mobile,
}

pub(crate) const WIN_AGENTS: &[&str] = &[
    "10.8760.22621.3527",
    "10.8750.19041.4355",
    "10.8735.19041.4170",
    "10.8470.19041.2788",
];
const LINUX_AGENTS: &[&str] = &["101.24032.0007", "101.24062.0000", "101.23092.0005"];
const MAC_AGENTS: &[&str] = &["101.24042.0002", "101.24052.0001"];
const MOBILE_AGENTS: &[&str] = &["1.0.6021.0101", "1.0.6124.0102"];

pub(crate) const OS_KINDS: &[OsKind] = &[
    OsKind {
        platform: "Windows11",
        weight: 22,
        class: DeviceClass::Laptop,
        versions: &["22H2", "23H2", "24H2"],
        builds: &[22621, 22631, 26100],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 0,
    },
    OsKind {
        platform: "Windows11",
        weight: 12,
        class: DeviceClass::Desktop,
        versions: &["22H2", "23H2", "24H2"],
        builds: &[22621, 22631, 26100],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 0,
    },
    OsKind {
        platform: "Windows10",
        weight: 18,
        class: DeviceClass::Desktop,
        versions: &["21H2", "22H2"],
        builds: &[19044, 19045],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 1,
    },
    OsKind {
        platform: "Windows10",
        weight: 15,
        class: DeviceClass::Laptop,
        versions: &["21H2", "22H2"],
        builds: &[19044, 19045],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 1,
    },
    OsKind {
        platform: "WindowsServer2022",
        weight: 6,
        class: DeviceClass::Server,
        versions: &["21H2"],
        builds: &[20348],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 2,
    },
    OsKind {
        platform: "WindowsServer2019",
        weight: 6,
        class: DeviceClass::Server,
        versions: &["1809"],
        builds: &[17763],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 3,
    },
    OsKind {
        platform: "WindowsServer2016",
        weight: 3,
        class: DeviceClass::Server,
        versions: &["1607"],
        builds: &[14393],
        os_versions: &[],
        agents: WIN_AGENTS,
        os_software: 4,
    },
    OsKind {
        platform: "Linux",
        weight: 8,
        class: DeviceClass::Server,
        versions: &[],
        builds: &[],
        os_versions: &["22.04", "20.04", "24.04", "9.3"],
        agents: LINUX_AGENTS,
        os_software: 5,
    },
    OsKind {
        platform: "macOS",
        weight: 6,
        class: DeviceClass::Laptop,
        versions: &[],
        builds: &[],
        os_versions: &["14.4", "14.5", "13.6"],
        agents: MAC_AGENTS,
        os_software: 6,
    },
    OsKind {
        platform: "iOS",
        weight: 2,
        class: DeviceClass::Mobile,
        versions: &[],
        builds: &[],
        os_versions: &["17.4.1", "17.5"],
        agents: MOBILE_AGENTS,
        os_software: 7,
    },
    OsKind {
        platform: "Android",
        weight: 2,
        class: DeviceClass::Mobile,
        versions: &[],
        builds: &[],
        os_versions: &["13", "14"],
        agents: MOBILE_AGENTS,
        os_software: 8,
    },
];

/// (rbacGroupId, rbacGroupName). Id 0 means "no group" and has a null name.
pub(crate) const RBAC_GROUPS: &[(i64, Option<&str>)] = &[
    (0, None),
    (140, Some("Workstations")),
    (141, Some("Servers - Production")),
    (142, Some("Servers - Test")),
    (143, Some("Finance")),
    (144, Some("EU Laptops")),
    (145, Some("Mobile")),
];

pub(crate) const MACHINE_TAGS: &[&str] = &[
    "VIP",
    "Finance",
    "evaluation",
    "Kiosk",
    "TestMachine",
    "PCI",
    "Tier0",
];

/// Software the tenant runs: (vendor, name, versions oldest first, os family).
/// Families: "win", "linux", "mac", "ios", "android", "any-desktop".
pub(crate) struct SoftwareKind {
    pub vendor: &'static str,
    pub name: &'static str,
    pub versions: &'static [&'static str],
    pub family: &'static str,
    pub disk_path: &'static str,
}

pub(crate) const SOFTWARE: &[SoftwareKind] = &[
    SoftwareKind {
        vendor: "microsoft",
        name: "windows_11",
        versions: &["10.0.22621.3296", "10.0.22631.3527", "10.0.26100.1150"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "microsoft",
        name: "windows_10",
        versions: &["10.0.19044.3570", "10.0.19045.4291", "10.0.19045.4529"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "microsoft",
        name: "windows_server_2022",
        versions: &["10.0.20348.2340", "10.0.20348.2461"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "microsoft",
        name: "windows_server_2019",
        versions: &["10.0.17763.5576", "10.0.17763.5820"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "microsoft",
        name: "windows_server_2016",
        versions: &["10.0.14393.6796", "10.0.14393.7070"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "canonical",
        name: "linux_kernel",
        versions: &["5.15.0", "6.5.0", "6.8.0"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "apple",
        name: "macos",
        versions: &["13.6.0", "14.4.0", "14.5.0"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "apple",
        name: "ios",
        versions: &["17.4.1", "17.5.0"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "google",
        name: "android",
        versions: &["13.0", "14.0"],
        family: "os",
        disk_path: "",
    },
    SoftwareKind {
        vendor: "google",
        name: "chrome",
        versions: &[
            "122.0.6261.112",
            "123.0.6312.86",
            "124.0.6367.91",
            "125.0.6422.60",
        ],
        family: "desktop",
        disk_path: "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    },
    SoftwareKind {
        vendor: "mozilla",
        name: "firefox",
        versions: &["123.0.1", "124.0.2", "125.0.3"],
        family: "desktop",
        disk_path: "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
    },
    SoftwareKind {
        vendor: "microsoft",
        name: "edge_chromium-based",
        versions: &["123.0.2420.65", "124.0.2478.80", "125.0.2535.51"],
        family: "desktop",
        disk_path: "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
    },
    SoftwareKind {
        vendor: "adobe",
        name: "acrobat_reader_dc",
        versions: &["23.008.20470", "24.001.20629", "24.002.20759"],
        family: "win",
        disk_path: "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe",
    },
    SoftwareKind {
        vendor: "7-zip",
        name: "7-zip",
        versions: &["19.00", "22.01", "23.01", "24.05"],
        family: "win",
        disk_path: "C:\\Program Files\\7-Zip\\7z.exe",
    },
    SoftwareKind {
        vendor: "oracle",
        name: "jre",
        versions: &["1.8.0.381", "1.8.0.401", "1.8.0.411"],
        family: "win",
        disk_path: "C:\\Program Files\\Java\\jre-1.8\\bin\\java.exe",
    },
    SoftwareKind {
        vendor: "notepad-plus-plus",
        name: "notepad++",
        versions: &["8.5.8", "8.6.4", "8.6.7"],
        family: "win",
        disk_path: "C:\\Program Files\\Notepad++\\notepad++.exe",
    },
    SoftwareKind {
        vendor: "zoom",
        name: "zoom",
        versions: &["5.16.10", "5.17.11", "6.0.11"],
        family: "desktop",
        disk_path: "C:\\Users\\Public\\Zoom\\bin\\Zoom.exe",
    },
    SoftwareKind {
        vendor: "openssl",
        name: "openssl",
        versions: &["1.1.1f", "3.0.2", "3.0.13"],
        family: "linux",
        disk_path: "/usr/lib/x86_64-linux-gnu/libssl.so.3",
    },
    SoftwareKind {
        vendor: "openbsd",
        name: "openssh",
        versions: &["8.2p1", "8.9p1", "9.6p1"],
        family: "linux",
        disk_path: "/usr/sbin/sshd",
    },
    SoftwareKind {
        vendor: "sudo_project",
        name: "sudo",
        versions: &["1.8.31", "1.9.9", "1.9.15"],
        family: "linux",
        disk_path: "/usr/bin/sudo",
    },
    SoftwareKind {
        vendor: "apache",
        name: "http_server",
        versions: &["2.4.41", "2.4.52", "2.4.59"],
        family: "linux",
        disk_path: "/usr/sbin/apache2",
    },
    SoftwareKind {
        vendor: "vmware",
        name: "tools",
        versions: &["12.1.5", "12.3.5", "12.4.0"],
        family: "server",
        disk_path: "C:\\Program Files\\VMware\\VMware Tools\\vmtoolsd.exe",
    },
    SoftwareKind {
        vendor: "microsoft",
        name: "sql_server_2019",
        versions: &["15.0.4345.5", "15.0.4375.4"],
        family: "server",
        disk_path: "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe",
    },
];

pub(crate) struct AlertKind {
    pub title: &'static str,
    pub category: &'static str,
    pub detection_source: &'static str,
    pub ah_detection_source: &'static str,
    pub mitre: &'static [&'static str],
    pub threat_family: Option<&'static str>,
    pub evidence: &'static [&'static str],
}

pub(crate) const ALERT_KINDS: &[AlertKind] = &[
    AlertKind {
        title: "Suspicious PowerShell command line",
        category: "Execution",
        detection_source: "WindowsDefenderAtp",
        ah_detection_source: "EDR",
        mitre: &["T1059.001", "T1086"],
        threat_family: None,
        evidence: &["Process", "User"],
    },
    AlertKind {
        title: "'Mimikatz' credential theft tool",
        category: "CredentialAccess",
        detection_source: "WindowsDefenderAv",
        ah_detection_source: "Antivirus",
        mitre: &["T1003"],
        threat_family: Some("Mimikatz"),
        evidence: &["File", "Process", "User"],
    },
    AlertKind {
        title: "An active 'Emotet' malware was detected",
        category: "Malware",
        detection_source: "WindowsDefenderAv",
        ah_detection_source: "Antivirus",
        mitre: &[],
        threat_family: Some("Emotet"),
        evidence: &["File"],
    },
    AlertKind {
        title: "Connection to a custom network indicator",
        category: "SuspiciousActivity",
        detection_source: "CustomerTI",
        ah_detection_source: "Custom TI",
        mitre: &[],
        threat_family: None,
        evidence: &["Ip", "Url"],
    },
    AlertKind {
        title: "Suspicious scheduled task",
        category: "Persistence",
        detection_source: "WindowsDefenderAtp",
        ah_detection_source: "EDR",
        mitre: &["T1053.005"],
        threat_family: None,
        evidence: &["Process", "Registry"],
    },
    AlertKind {
        title: "Potentially unwanted application",
        category: "UnwantedSoftware",
        detection_source: "WindowsDefenderAv",
        ah_detection_source: "Antivirus",
        mitre: &[],
        threat_family: Some("BundleInstaller"),
        evidence: &["File"],
    },
    AlertKind {
        title: "Suspicious sign-in from an unfamiliar location",
        category: "InitialAccess",
        detection_source: "MTP",
        ah_detection_source: "Microsoft Defender XDR",
        mitre: &["T1078"],
        threat_family: None,
        evidence: &["User", "Ip"],
    },
    AlertKind {
        title: "Phishing site blocked by SmartScreen",
        category: "InitialAccess",
        detection_source: "WindowsDefenderSmartScreen",
        ah_detection_source: "SmartScreen",
        mitre: &["T1566.002"],
        threat_family: None,
        evidence: &["Url"],
    },
    AlertKind {
        title: "Lateral movement using remote services",
        category: "LateralMovement",
        detection_source: "WindowsDefenderAtp",
        ah_detection_source: "EDR",
        mitre: &["T1021.002"],
        threat_family: None,
        evidence: &["Process", "Ip", "User"],
    },
    AlertKind {
        title: "Custom detection: rare admin tool",
        category: "SuspiciousActivity",
        detection_source: "CustomDetection",
        ah_detection_source: "Custom detection",
        mitre: &["T1105"],
        threat_family: None,
        evidence: &["File", "Process"],
    },
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "adele", "alex", "bianca", "carlos", "diego", "emma", "fatima", "grace", "hiro", "isaac",
    "jana", "kofi", "lena", "marco", "nina", "omar", "priya", "quinn", "rosa", "sven", "tariq",
    "uma", "victor", "wei", "yara", "zoe",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "smith",
    "vance",
    "garcia",
    "novak",
    "okafor",
    "tanaka",
    "muller",
    "rossi",
    "kowalski",
    "nguyen",
    "haddad",
    "johansson",
    "silva",
    "dubois",
    "kim",
    "patel",
    "obrien",
    "fischer",
];

pub(crate) const SERVER_ROLES: &[&str] = &["web", "sql", "app", "file", "dc", "print", "build"];

/// The tenant's AD DNS suffix for domain-joined devices.
pub(crate) const DNS_SUFFIX: &str = "corp.contoso-sim.com";
/// The NetBIOS domain of domain accounts.
pub(crate) const NETBIOS_DOMAIN: &str = "CONTOSO";
