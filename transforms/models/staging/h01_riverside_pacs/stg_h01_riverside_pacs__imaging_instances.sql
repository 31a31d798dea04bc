-- Riverside General Hospital PACS (dicom): one row per DICOM file header, typed (DICOM dates and times -> date / UTC timestamp).
{{ stg_canonical() }}
