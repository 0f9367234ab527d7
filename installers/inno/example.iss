; An Ollama-shaped per-user installer (like Ollama's app/ollama.iss) with llm-upgrade added by
; the two lines at the end. Build (paths relative to this file, or pass /D…):
;   iscc /DPayloadDir=..\example\payload /DLlmUpgradeExe=..\..\out\sea\llm-upgrade-win32-x64.exe example.iss
;   (Linux: wine node_modules/innosetup/bin/ISCC.exe …; ISCC is 32-bit, so Wine needs wine32)
#ifndef PayloadDir
  #define PayloadDir "..\example\payload"
#endif

[Setup]
AppId={{7E1C4A52-6F0B-4C59-9D3A-2B8F1E6A0C11}
AppName=Sample LLM App
AppVersion=1.0.0
AppPublisher=llm-upgrade example
DefaultDirName={localappdata}\Programs\Sample LLM App
DisableDirPage=yes
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
CloseApplications=no
SetupLogging=yes
OutputBaseFilename=sample-llm-app-setup
Compression=lzma2
SolidCompression=yes

[Files]
Source: "{#PayloadDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

; llm-upgrade: stop everything that runs from {app} (orphaned engines included) before
; [InstallDelete]/[Files] touch a file, and before the uninstaller removes one.
#ifndef LlmUpgradeExe
#define LlmUpgradeExe "..\..\out\sea\llm-upgrade-win32-x64.exe"
#endif
#include "llm-upgrade.iss"
