package policy

import "io/fs"

// OpenBundleTarball reads a bundle tarball held in memory, such as one a
// regulator uploaded, into an in-memory file system without verifying it;
// [OpenBundle] does the same for a file or directory.
func OpenBundleTarball(tarball []byte) (fs.FS, error) {
	files, err := readTarball(tarball)
	if err != nil {
		return nil, err
	}
	return files.fs(), nil
}
