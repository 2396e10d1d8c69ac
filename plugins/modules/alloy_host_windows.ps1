#!powershell
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Converges one Windows Alloy host in one call: the installer (version pin), the service's
# registry values (Arguments, Environment), config.alloy, the service, readiness with rollback to
# the last good configuration, and the host's report. The configuration was rendered and checked
# on the control node by the lgtm.aws.alloy_host action. Documentation: alloy_host_windows.py.

$spec = @{
    options = @{
        state = @{ type = 'str'; default = 'present'; choices = @('present', 'absent') }
        version = @{ type = 'str' }
        mode = @{ type = 'str'; default = 'agent'; choices = @('agent', 'collector') }
        config = @{ type = 'str' }
        run_args = @{ type = 'list'; elements = 'str'; default = @() }
        basic_auth_password = @{ type = 'str'; default = ''; no_log = $true }
        http_listen_addr = @{ type = 'str'; default = '127.0.0.1:12345' }
        ready_timeout = @{ type = 'int'; default = 60 }
        installer_url = @{ type = 'str'; default = '' }
        installer_sha256 = @{ type = 'str'; default = '' }
        installer_path = @{ type = 'str'; default = '' }
        install_dir = @{ type = 'str'; default = 'C:\Program Files\GrafanaLabs\Alloy' }
        data_dir = @{ type = 'str'; default = 'C:\ProgramData\GrafanaLabs\Alloy\data' }
        registry_key = @{ type = 'str'; default = 'HKLM:\SOFTWARE\GrafanaLabs\Alloy' }
        service_name = @{ type = 'str'; default = 'Alloy' }
        temp_dir = @{ type = 'str'; default = 'C:\Windows\Temp\lgtm-alloy' }
    }
    required_if = @(
        , @('state', 'present', @('version', 'config'))
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$state = $module.Params.state
$version = if ($null -ne $module.Params.version) { $module.Params.version -replace '^v', '' } else { '' }
$config = $module.Params.config
$runArgs = @($module.Params.run_args | Where-Object { $_ -ne '' })
$password = $module.Params.basic_auth_password
$listenAddr = $module.Params.http_listen_addr
$readyTimeout = $module.Params.ready_timeout
$installerUrl = $module.Params.installer_url
$installerSha256 = $module.Params.installer_sha256
$installerPath = $module.Params.installer_path
$installDir = [Environment]::ExpandEnvironmentVariables($module.Params.install_dir)
$dataDir = [Environment]::ExpandEnvironmentVariables($module.Params.data_dir)
$registryKey = $module.Params.registry_key
$serviceName = $module.Params.service_name
$tempDir = [Environment]::ExpandEnvironmentVariables($module.Params.temp_dir)

$alloyExe = Join-Path -Path $installDir -ChildPath 'alloy-windows-amd64.exe'
$uninstaller = Join-Path -Path $installDir -ChildPath 'uninstall.exe'
$configFile = Join-Path -Path $installDir -ChildPath 'config.alloy'
$lastGoodFile = "$configFile.last-good"
$passwordVariable = 'ALLOY_BASIC_AUTH_PASSWORD'
$utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
$ProgressPreference = 'SilentlyContinue'

$parts = @{ package = $false; environment = $false; arguments = $false; config = $false; service = $false }
$diffs = [System.Collections.Generic.List[object]]@()
$module.Result.parts = $parts
$module.Result.restarted = $false
$module.Result.rolled_back = $false
$module.Result.installed_version = ''
$module.Result.needs_installer = $false

Function Add-PartDiff {
    param([string]$Header, [string]$Before, [string]$After)
    $diffs.Add(@{ before_header = $Header; after_header = $Header; before = $Before; after = $After })
}

Function Get-Sha256Hex {
    param([byte[]]$Bytes)
    $hasher = [System.Security.Cryptography.SHA256]::Create()
    try {
        return ([System.BitConverter]::ToString($hasher.ComputeHash($Bytes)) -replace '-', '').ToLowerInvariant()
    }
    finally {
        $hasher.Dispose()
    }
}

Function Get-FileSha256 {
    param([string]$Path)
    $stream = [System.IO.File]::OpenRead($Path)
    $hasher = [System.Security.Cryptography.SHA256]::Create()
    try {
        return ([System.BitConverter]::ToString($hasher.ComputeHash($stream)) -replace '-', '').ToLowerInvariant()
    }
    finally {
        $hasher.Dispose()
        $stream.Dispose()
    }
}

Function Read-TextFile {
    # The file's text, or $null when there is none.
    param([string]$Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $null
    }
    return $utf8.GetString([System.IO.File]::ReadAllBytes($Path))
}

Function Write-FileAtomic {
    # Writes beside the target, then moves over it, so Alloy never reads half a file.
    param([string]$Path, [byte[]]$Bytes)
    $directory = Split-Path -Path $Path -Parent
    if (-not (Test-Path -LiteralPath $directory -PathType Container)) {
        New-Item -Path $directory -ItemType Directory -Force | Out-Null
    }
    $staging = Join-Path -Path $directory -ChildPath ('.{0}.{1}.tmp' -f (Split-Path -Path $Path -Leaf), [Guid]::NewGuid().ToString('N'))
    [System.IO.File]::WriteAllBytes($staging, $Bytes)
    try {
        if (Test-Path -LiteralPath $Path -PathType Leaf) {
            [System.IO.File]::Replace($staging, $Path, [NullString]::Value)
        }
        else {
            [System.IO.File]::Move($staging, $Path)
        }
    }
    catch {
        Remove-Item -LiteralPath $staging -Force -ErrorAction SilentlyContinue
        throw
    }
}

Function ConvertTo-Version {
    # "v1.18.1", "1.18.1.0", "alloy, version v1.18.1 (branch: ...)" -> "1.18.1"; "" when none.
    param([string]$Text)
    if ($Text -match '(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)') {
        return $Matches[1]
    }
    return ''
}

Function Get-InstalledVersion {
    if (-not (Test-Path -LiteralPath $alloyExe -PathType Leaf)) {
        return ''
    }
    $fileVersion = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($alloyExe).ProductVersion
    $found = ConvertTo-Version -Text "$fileVersion"
    if ($found -eq '') {
        # No version resource (the release binaries have none): ask the binary. Through
        # Process, not `&`, so that output on stderr is not an error under EAP Stop.
        $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo -ArgumentList $alloyExe, '--version'
        $startInfo.UseShellExecute = $false
        $startInfo.RedirectStandardOutput = $true
        $startInfo.RedirectStandardError = $true
        $startInfo.CreateNoWindow = $true
        $process = [System.Diagnostics.Process]::Start($startInfo)
        $stderr = $process.StandardError.ReadToEndAsync()
        $stdout = $process.StandardOutput.ReadToEnd()
        $process.WaitForExit()
        $found = ConvertTo-Version -Text ($stdout + $stderr.Result)
    }
    return $found
}

Function Resolve-RegistryKey {
    # registry_key as (base key in the 64-bit view, subkey path), like the installer's Reg.exe /reg:64.
    param([string]$Path)
    $hives = @{
        'HKLM' = [Microsoft.Win32.RegistryHive]::LocalMachine; 'HKEY_LOCAL_MACHINE' = [Microsoft.Win32.RegistryHive]::LocalMachine
        'HKCU' = [Microsoft.Win32.RegistryHive]::CurrentUser; 'HKEY_CURRENT_USER' = [Microsoft.Win32.RegistryHive]::CurrentUser
    }
    $hive = $null
    if ($Path -match '^(?:Registry::)?(?<hive>[A-Za-z_]+):?\\(?<sub>.+)$') {
        $hive = $hives[$Matches.hive.ToUpperInvariant()]
        $subKey = $Matches.sub.TrimEnd('\')
    }
    if ($null -eq $hive) {
        $module.FailJson("registry_key '$Path' is not a path under HKLM: or HKCU: (e.g. 'HKLM:\SOFTWARE\GrafanaLabs\Alloy')")
    }
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hive, [Microsoft.Win32.RegistryView]::Registry64)
    return , @($base, $subKey)
}

Function Open-RegistryKey {
    # The key as a .NET RegistryKey, or $null when it does not exist and -Create is not set.
    param([string]$Path, [switch]$Create)
    $base, $subKey = Resolve-RegistryKey -Path $Path
    try {
        if ($Create) {
            return $base.CreateSubKey($subKey)
        }
        return $base.OpenSubKey($subKey, $false)
    }
    finally {
        $base.Dispose()
    }
}

Function Remove-RegistryKey {
    param([string]$Path)
    $base, $subKey = Resolve-RegistryKey -Path $Path
    try {
        $base.DeleteSubKeyTree($subKey, $false)
    }
    finally {
        $base.Dispose()
    }
}

Function Get-MultiString {
    # A MultiString value as a string array; $null when missing or of another kind.
    param([string]$Name)
    $key = Open-RegistryKey -Path $registryKey
    if ($null -eq $key) {
        return $null
    }
    try {
        if ($key.GetValueNames() -notcontains $Name) {
            return $null
        }
        if ($key.GetValueKind($Name) -ne [Microsoft.Win32.RegistryValueKind]::MultiString) {
            return $null
        }
        # The comma keeps an empty or one-element array an array.
        return , [string[]]$key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    }
    finally {
        $key.Dispose()
    }
}

Function Set-MultiString {
    param([string]$Name, [string[]]$Value)
    $key = Open-RegistryKey -Path $registryKey -Create
    try {
        $key.SetValue($Name, [string[]]$Value, [Microsoft.Win32.RegistryValueKind]::MultiString)
    }
    finally {
        $key.Dispose()
    }
}

Function Test-SameList {
    param([string[]]$Left, [string[]]$Right)
    $a = @($Left)
    $b = @($Right)
    if ($a.Count -ne $b.Count) {
        return $false
    }
    for ($i = 0; $i -lt $a.Count; $i++) {
        if ($a[$i] -cne $b[$i]) {
            return $false
        }
    }
    return $true
}

Function Format-Environment {
    # Environment entries as diff text, the password's value masked.
    param([string[]]$Entries, [bool]$New)
    $shown = [System.Collections.Generic.List[string]]@()
    foreach ($entry in $Entries) {
        if ($entry -like "$passwordVariable=*") {
            $shown.Add($(if ($New) { "$passwordVariable=******** (new value)" } else { "$passwordVariable=********" }))
        }
        else {
            $shown.Add($entry)
        }
    }
    if ($shown.Count -eq 0) {
        return ''
    }
    return ($shown -join "`n") + "`n"
}

Function Get-AlloyService {
    return Get-Service -Name $serviceName -ErrorAction SilentlyContinue
}

Function Get-ServiceReport {
    $service = Get-AlloyService
    if ($null -eq $service) {
        return 'absent/absent'
    }
    $stateName = switch ($service.Status.ToString()) {
        'Running' { 'started' }
        'Stopped' { 'stopped' }
        'StartPending' { 'start_pending' }
        'StopPending' { 'stop_pending' }
        'Paused' { 'paused' }
        default { $service.Status.ToString().ToLowerInvariant() }
    }
    $startMode = switch ($service.StartType.ToString()) {
        'Automatic' { if (Test-DelayedStart) { 'delayed' } else { 'auto' } }
        'Manual' { 'manual' }
        'Disabled' { 'disabled' }
        default { $service.StartType.ToString().ToLowerInvariant() }
    }
    return "$stateName/$startMode"
}

Function Test-DelayedStart {
    $value = Get-ItemProperty -LiteralPath "HKLM:\SYSTEM\CurrentControlSet\Services\$serviceName" -Name DelayedAutostart -ErrorAction SilentlyContinue
    return ($null -ne $value -and $value.DelayedAutostart -eq 1)
}

Function Get-ReadyUrl {
    $address = $listenAddr -replace '^0\.0\.0\.0:', '127.0.0.1:' -replace '^\[::\]:', '[::1]:' -replace '^:', '127.0.0.1:'
    return "http://$address/-/ready"
}

Function Wait-Ready {
    # True once /-/ready answers 200 within ready_timeout seconds.
    $url = Get-ReadyUrl
    $deadline = [DateTime]::UtcNow.AddSeconds([Math]::Max(1, $readyTimeout))
    do {
        try {
            $request = [System.Net.HttpWebRequest]::Create($url)
            $request.Proxy = $null
            $request.Timeout = 5000
            $response = $request.GetResponse()
            $status = [int]$response.StatusCode
            $response.Close()
            if ($status -eq 200) {
                return $true
            }
        }
        catch {
            # Not listening yet, or not ready (503): try again until the deadline.
            $inner = $_.Exception
            while ($null -ne $inner -and $inner -isnot [System.Net.WebException]) {
                $inner = $inner.InnerException
            }
            if ($null -ne $inner -and $null -ne $inner.Response) {
                $inner.Response.Close()
            }
        }
        Start-Sleep -Seconds 2
    } while ([DateTime]::UtcNow -lt $deadline)
    return $false
}

Function Get-Installer {
    # The installer .exe to run: the one the action copied, or the release zip downloaded here,
    # checked against installer_sha256 and unpacked.
    if ($installerPath -ne '') {
        if (-not (Test-Path -LiteralPath $installerPath -PathType Leaf)) {
            $module.FailJson("installer_path '$installerPath' does not exist on the host")
        }
        return $installerPath
    }
    if ($installerSha256 -notmatch '^[0-9a-fA-F]{64}$') {
        $module.FailJson("installer_sha256 must be the 64 hex digits of the installer zip to download '$installerUrl'")
    }
    if (-not (Test-Path -LiteralPath $tempDir -PathType Container)) {
        New-Item -Path $tempDir -ItemType Directory -Force | Out-Null
    }
    $zip = Join-Path -Path $tempDir -ChildPath 'alloy-installer-windows-amd64.exe.zip'
    if (-not (Test-Path -LiteralPath $zip -PathType Leaf) -or (Get-FileSha256 -Path $zip) -ne $installerSha256.ToLowerInvariant()) {
        [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.ServicePointManager]::SecurityProtocol -bor [System.Net.SecurityProtocolType]::Tls12
        try {
            Invoke-WebRequest -Uri $installerUrl -OutFile $zip -UseBasicParsing
        }
        catch {
            $module.FailJson("could not download the Alloy installer from '$installerUrl': $($_.Exception.Message)", $_)
        }
        $actual = Get-FileSha256 -Path $zip
        if ($actual -ne $installerSha256.ToLowerInvariant()) {
            Remove-Item -LiteralPath $zip -Force
            $module.FailJson("the installer downloaded from '$installerUrl' has sha256 $actual, not installer_sha256 $($installerSha256.ToLowerInvariant())")
        }
    }
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    $archive = [System.IO.Compression.ZipFile]::OpenRead($zip)
    try {
        $entry = $archive.Entries | Where-Object { $_.Name -like '*.exe' } | Select-Object -First 1
        if ($null -eq $entry) {
            $module.FailJson("the archive from '$installerUrl' holds no .exe installer")
        }
        $exe = Join-Path -Path $tempDir -ChildPath $entry.Name
        [System.IO.Compression.ZipFileExtensions]::ExtractToFile($entry, $exe, $true)
    }
    finally {
        $archive.Dispose()
    }
    return $exe
}

Function Invoke-Quietly {
    # Runs an installer or uninstaller; its exit code.
    param([string]$Path, [string[]]$Arguments)
    $process = Start-Process -FilePath $Path -ArgumentList $Arguments -Wait -PassThru -WindowStyle Hidden
    return $process.ExitCode
}

Function Set-AutoStart {
    # start_mode auto (not delayed); true when it changed something.
    $service = Get-AlloyService
    $changed = $false
    if ($service.StartType.ToString() -ne 'Automatic') {
        if (-not $module.CheckMode) {
            Set-Service -Name $serviceName -StartupType Automatic
        }
        $changed = $true
    }
    if (Test-DelayedStart) {
        if (-not $module.CheckMode) {
            Set-ItemProperty -LiteralPath "HKLM:\SYSTEM\CurrentControlSet\Services\$serviceName" -Name DelayedAutostart -Value 0
        }
        $changed = $true
    }
    return $changed
}

Function Complete-Result {
    param([string]$ReportVersion, [string]$ConfigSha256, [string]$Service)
    $module.Result.changed = [bool]($module.Result.changed -or (@($parts.Values) -contains $true))
    $module.Result.report = @{
        state = $state
        mode = $module.Params.mode
        version = $ReportVersion
        config_sha256 = $ConfigSha256
        service = $Service
    }
    if ($module.DiffMode -and $diffs.Count -gt 0) {
        $module.Result.diff = $diffs.ToArray()
    }
}

# --- state: absent -------------------------------------------------------------------------
if ($state -eq 'absent') {
    $installed = Get-InstalledVersion
    $module.Result.installed_version = $installed
    $service = Get-AlloyService
    if ($null -ne $service -and $service.Status.ToString() -ne 'Stopped') {
        $parts.service = $true
        Add-PartDiff -Header "service $serviceName" -Before "$(Get-ServiceReport)`n" -After "absent`n"
        if (-not $module.CheckMode) {
            Stop-Service -Name $serviceName -Force
        }
    }
    if (Test-Path -LiteralPath $uninstaller -PathType Leaf) {
        $parts.package = $true
        Add-PartDiff -Header "package Alloy" -Before "v$installed`n" -After "absent`n"
        if (-not $module.CheckMode) {
            $code = Invoke-Quietly -Path $uninstaller -Arguments @('/S')
            if ($code -ne 0) {
                $module.FailJson("the Alloy uninstaller '$uninstaller' exited with $code")
            }
            # The NSIS uninstaller copies itself away and returns at once: wait until it is done.
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            while ((Test-Path -LiteralPath $uninstaller) -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Seconds 1
            }
        }
    }
    $existingConfig = Read-TextFile -Path $configFile
    foreach ($path in @($installDir, $dataDir)) {
        if (Test-Path -LiteralPath $path) {
            $parts.config = $true
            if ($path -eq $installDir -and $null -ne $existingConfig) {
                Add-PartDiff -Header $configFile -Before $existingConfig -After ''
            }
            else {
                Add-PartDiff -Header $path -Before "present`n" -After "absent`n"
            }
            if (-not $module.CheckMode) {
                Remove-Item -LiteralPath $path -Recurse -Force
            }
        }
    }
    $key = Open-RegistryKey -Path $registryKey
    if ($null -ne $key) {
        $key.Dispose()
        $parts.arguments = $true
        $parts.environment = $true
        Add-PartDiff -Header $registryKey -Before "present`n" -After "absent`n"
        if (-not $module.CheckMode) {
            Remove-RegistryKey -Path $registryKey
        }
    }
    Complete-Result -ReportVersion '' -ConfigSha256 '' -Service 'absent'
    $module.ExitJson()
}

# --- state: present ------------------------------------------------------------------------
# Nothing changes before this point is passed: the installer is found (or the action is told it
# is needed) first.
$installed = Get-InstalledVersion
$module.Result.installed_version = $installed
$needsInstall = ($installed -ne $version)
# The action sends an installer of its own only when the host needs it: tell it so (in check mode too, where
# nothing is installed and this is not a failure).
$module.Result.needs_installer = [bool]($needsInstall -and $installerPath -eq '' -and $installerUrl -eq '')
if ($module.Result.needs_installer -and -not $module.CheckMode) {
    $has = if ($installed) { "v$installed" } else { 'none' }
    $module.FailJson("Alloy v$version is needed on this host (it has $has) and neither installer_path nor installer_url was given")
}

if ($needsInstall) {
    $parts.package = $true
    Add-PartDiff -Header 'package Alloy' -Before $(if ($installed) { "v$installed`n" } else { "absent`n" }) -After "v$version`n"
    if (-not $module.CheckMode) {
        $installer = Get-Installer
        $code = Invoke-Quietly -Path $installer -Arguments @('/S', '/DISABLEREPORTING=yes')
        if ($code -ne 0) {
            $module.FailJson("the Alloy installer '$installer' exited with $code")
        }
        $after = Get-InstalledVersion
        if ($after -ne $version) {
            $module.FailJson("after running the installer '$installer' the host has Alloy '$after', not $version; is it the installer of $version?")
        }
        if ($installerPath -eq '') {
            # What this module downloaded; the zip is kept while it matches, for a retry.
            Remove-Item -LiteralPath $installer -Force -ErrorAction SilentlyContinue
        }
    }
}

# Service arguments and environment (the installer sets up both; these replace them).
$wantedArguments = [string[]](@('run', $configFile, "--storage.path=$dataDir") + $runArgs)
$currentArguments = Get-MultiString -Name 'Arguments'
if ($null -eq $currentArguments -or -not (Test-SameList -Left $currentArguments -Right $wantedArguments)) {
    $parts.arguments = $true
    $before = if ($null -eq $currentArguments) { '' } else { ($currentArguments -join "`n") + "`n" }
    Add-PartDiff -Header "$registryKey\Arguments" -Before $before -After (($wantedArguments -join "`n") + "`n")
    if (-not $module.CheckMode) {
        Set-MultiString -Name 'Arguments' -Value $wantedArguments
    }
}

$wantedEnvironment = [string[]]@(if ($password -ne '') { "$passwordVariable=$password" })
$currentEnvironment = Get-MultiString -Name 'Environment'
$currentList = if ($null -eq $currentEnvironment) { [string[]]@() } else { $currentEnvironment }
if (-not (Test-SameList -Left $currentList -Right $wantedEnvironment)) {
    $parts.environment = $true
    $passwordChanged = -not (Test-SameList -Left @($currentList | Where-Object { $_ -like "$passwordVariable=*" }) -Right @($wantedEnvironment))
    Add-PartDiff -Header "$registryKey\Environment" -Before (Format-Environment -Entries $currentList -New $false) `
        -After (Format-Environment -Entries $wantedEnvironment -New $passwordChanged)
    if (-not $module.CheckMode) {
        Set-MultiString -Name 'Environment' -Value $wantedEnvironment
    }
}

# config.alloy, written only when its text differs.
$configBytes = $utf8.GetBytes($config)
$configSha256 = Get-Sha256Hex -Bytes $configBytes
$currentConfig = Read-TextFile -Path $configFile
$currentSha256 = if ($null -eq $currentConfig) { '' } else { Get-FileSha256 -Path $configFile }
if ($currentSha256 -ne $configSha256) {
    $parts.config = $true
    Add-PartDiff -Header $configFile -Before $(if ($null -eq $currentConfig) { '' } else { $currentConfig }) -After $config
    if (-not $module.CheckMode) {
        Write-FileAtomic -Path $configFile -Bytes $configBytes
    }
}

# The service: auto start; restart when anything above changed, start when stopped.
$service = Get-AlloyService
if ($null -eq $service) {
    if ($module.CheckMode -and $needsInstall) {
        $parts.service = $true
        Add-PartDiff -Header "service $serviceName" -Before "absent`n" -After "started/auto`n"
        Complete-Result -ReportVersion "v$version" -ConfigSha256 $configSha256 -Service 'started/auto'
        $module.ExitJson()
    }
    $module.FailJson("the service '$serviceName' does not exist; the Alloy installer should have created it")
}
$serviceBefore = Get-ServiceReport
if (Set-AutoStart) {
    $parts.service = $true
}
$restart = [bool]($parts.package -or $parts.arguments -or $parts.environment -or $parts.config)
$start = (-not $restart) -and $service.Status.ToString() -ne 'Running'
if ($restart -or $start) {
    $parts.service = $true
}
if ($parts.service) {
    Add-PartDiff -Header "service $serviceName" -Before "$serviceBefore`n" `
        -After $(if ($restart) { "started/auto (restarted)`n" } else { "started/auto`n" })
}

if ($module.CheckMode) {
    Complete-Result -ReportVersion "v$version" -ConfigSha256 $configSha256 -Service $(if ($parts.service) { 'started/auto' } else { $serviceBefore })
    $module.ExitJson()
}

$failure = $null
try {
    if ($restart) {
        Restart-Service -Name $serviceName -Force -ErrorAction Stop
        $module.Result.restarted = $true
    }
    elseif ($start) {
        Start-Service -Name $serviceName -ErrorAction Stop
    }
}
catch {
    $failure = "the service '$serviceName' did not start: $($_.Exception.Message)"
}
if ($null -eq $failure -and -not (Wait-Ready)) {
    $failure = "Alloy did not become ready at $listenAddr within $($readyTimeout)s"
}

if ($null -ne $failure) {
    # Put back the last good configuration, restart with it, and fail with the reason.
    $canRollBack = Test-Path -LiteralPath $lastGoodFile -PathType Leaf
    if ($canRollBack) {
        Write-FileAtomic -Path $configFile -Bytes ([System.IO.File]::ReadAllBytes($lastGoodFile))
        Restart-Service -Name $serviceName -Force -ErrorAction SilentlyContinue
        $module.Result.rolled_back = $true
    }
    Complete-Result -ReportVersion "v$version" -ConfigSha256 $(if ($canRollBack) { Get-FileSha256 -Path $configFile } else { $configSha256 }) -Service (Get-ServiceReport)
    $how = if ($canRollBack) { 'the last good configuration was restored' } else { 'there was no earlier configuration to restore' }
    $module.FailJson("$failure with the new configuration on $($env:COMPUTERNAME); $how.")
}

# Ready: this configuration is the last good one.
$lastGood = if (Test-Path -LiteralPath $lastGoodFile -PathType Leaf) { Get-FileSha256 -Path $lastGoodFile } else { '' }
if ($lastGood -ne $configSha256) {
    Write-FileAtomic -Path $lastGoodFile -Bytes $configBytes
    $module.Result.changed = $true
}

Complete-Result -ReportVersion "v$version" -ConfigSha256 $configSha256 -Service (Get-ServiceReport)
$module.ExitJson()
