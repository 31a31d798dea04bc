-- pydicom test files (dicom): one row per DICOM file header, typed (DICOM dates and times -> date / UTC timestamp).
-- Three of the files carry no SOP Instance UID at all (neither in the data set nor in the file meta): they are keyed
-- by their file checksum, so every bronze row keeps an instance key.
{{ stg_canonical(columns={"sop_instance_uid": "coalesce(nullif(trim(sop_instance_uid), ''), 'sha256:' || _file_sha256)"}) }}
