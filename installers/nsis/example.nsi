; Example installer that stops a running LLM runner before replacing its files.
; Build (paths may be absolute; makensis runs on Linux or Windows):
;   makensis -DPAYLOAD_DIR=/path/to/app -DLLM_UPGRADE_EXE=/path/to/llm-upgrade-win32-x64.exe \
;            -DOUT_FILE=/path/to/setup.exe example.nsi
; Optional: -DPRODUCT_NAME=... -DPRODUCT_VERSION=1.2.3 -DMANUFACTURER=... -DINSTALL_DIR_NAME=...
;           -DLLM_UPGRADE_NSH=/path/to/rendered/llm-upgrade.nsh (default: the one next to this file)
; Silent: setup.exe /S /D=C:\Path ; uninstall: "C:\Path\uninstall.exe" /S
Unicode true
Target amd64-unicode
SetCompressor /SOLID zlib

!ifndef PRODUCT_NAME
  !define PRODUCT_NAME "Sample LLM App"
!endif
!ifndef PRODUCT_VERSION
  !define PRODUCT_VERSION "1.0.0"
!endif
!ifndef MANUFACTURER
  !define MANUFACTURER "Example"
!endif
!ifndef INSTALL_DIR_NAME
  !define INSTALL_DIR_NAME "${PRODUCT_NAME}"
!endif
!ifndef PAYLOAD_DIR
  !error "define PAYLOAD_DIR: the directory whose contents are installed"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "setup.exe"
!endif
!ifndef LLM_UPGRADE_NSH
  !define LLM_UPGRADE_NSH "${__FILEDIR__}/llm-upgrade.nsh"
!endif
!define LLM_UPGRADE_PRODUCT "${PRODUCT_NAME}"
!include "${LLM_UPGRADE_NSH}"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${PRODUCT_NAME}"

Name "${PRODUCT_NAME} ${PRODUCT_VERSION}"
OutFile "${OUT_FILE}"
InstallDir "$PROGRAMFILES64\${INSTALL_DIR_NAME}"
RequestExecutionLevel admin
ShowInstDetails show
ShowUninstDetails show

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Function .onInit
  SetRegView 64
FunctionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Install"
  ; Before any File: nothing under $INSTDIR may run or hold a file while it is replaced.
  !insertmacro LLM_UPGRADE_BEFORE_INSTALL
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD_DIR}/*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT_NAME}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${PRODUCT_VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "${MANUFACTURER}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
SectionEnd

Section "Uninstall"
  !insertmacro LLM_UPGRADE_BEFORE_UNINSTALL
  RMDir /r "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
